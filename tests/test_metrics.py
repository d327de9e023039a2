"""The metrics reproduce InterGen's reference values (tests/data/metric-vectors.npz) and behave sensibly."""

from pathlib import Path

import numpy as np
import pytest

from intermamba.evaluation import metrics

VECTORS = Path(__file__).parent / "data" / "metric-vectors.npz"


@pytest.fixture(scope="module")
def ref():
    return dict(np.load(VECTORS))


def test_r_precision_matches_reference(ref):
    counts = metrics.r_precision(ref["text"], ref["motion"], top_k=3)
    np.testing.assert_array_equal(counts, ref["r_precision_counts"])


def test_matching_score_matches_reference(ref):
    np.testing.assert_allclose(metrics.matching_score(ref["text"], ref["motion"]), ref["mm_dist_sum"], rtol=1e-6)


def test_fid_matches_reference(ref):
    np.testing.assert_allclose(metrics.fid(ref["gt"], ref["gen"]), ref["fid"], rtol=1e-4)


def test_diversity_matches_reference(ref):
    value = metrics.diversity(ref["gen"], ref["div_i"], ref["div_j"])
    np.testing.assert_allclose(value, ref["diversity"], rtol=1e-6)


def test_multimodality_matches_reference(ref):
    value = metrics.multimodality(ref["mm"], ref["mm_i"], ref["mm_j"])
    np.testing.assert_allclose(value, ref["multimodality"], rtol=1e-6)


def test_interx_preset_is_unscaled_and_unhalved(ref):
    raw = np.linalg.norm(ref["gen"][ref["div_i"]] - ref["gen"][ref["div_j"]], axis=1).mean()
    assert metrics.diversity(ref["gen"], ref["div_i"], ref["div_j"], emb_scale=1.0, divide_by=1.0) == pytest.approx(raw)
    # InterGen's x6 and /2 make Diversity exactly 3x the raw distance.
    assert metrics.diversity(ref["gen"], ref["div_i"], ref["div_j"]) == pytest.approx(3 * raw)
    # FID scales with the square of the embedding scale.
    assert metrics.fid(ref["gt"], ref["gen"], emb_scale=1.0) * 36 == pytest.approx(ref["fid"], rel=1e-6)


def test_fid_of_a_set_with_itself_is_zero_and_grows_with_shift():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 8))
    assert abs(metrics.fid(a, a, emb_scale=1.0)) < 1e-6
    b = rng.normal(size=(400, 8))
    assert metrics.fid(a, b, emb_scale=1.0) < 0.2                       # two draws of one distribution
    assert metrics.fid(b, b + 1.0, emb_scale=1.0) == pytest.approx(8.0)  # a pure shift adds |shift|^2


def test_fid_survives_rank_deficient_covariances():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(10, 32)), rng.normal(size=(10, 32))       # fewer samples than dimensions
    assert np.isfinite(metrics.fid(a, b))


def test_r_precision_matched_far_above_chance_shuffled_at_chance():
    rng = np.random.default_rng(2)
    n, trials = 32, 50
    matched, shuffled = np.zeros(3), np.zeros(3)
    for _ in range(trials):
        motion = rng.normal(size=(n, 16))
        text = motion + 0.3 * rng.normal(size=(n, 16))
        matched += metrics.r_precision(text, motion)
        shuffled += metrics.r_precision(text[rng.permutation(n)], motion)
    matched, shuffled = matched / (n * trials), shuffled / (n * trials)
    assert matched[0] > 0.9
    chance = np.arange(1, 4) / n
    np.testing.assert_allclose(shuffled, chance, atol=0.03)
    assert np.all(np.diff(matched) >= 0) and np.all(np.diff(shuffled) >= 0)      # cumulative counts


def test_distance_matrix_is_euclidean_and_never_nan():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(5, 4)), rng.normal(size=(6, 4))
    expected = np.linalg.norm(a[:, None] - b[None], axis=-1)
    np.testing.assert_allclose(metrics.distance_matrix(a, b), expected, rtol=1e-10)
    same = np.full((3, 4), 1e8)                                           # round-off would go negative
    assert np.isfinite(metrics.distance_matrix(same, same)).all()


def test_draw_pairs_is_seeded_and_without_replacement():
    first, second = metrics.draw_pairs(np.random.default_rng(5), 30, 10)
    again = metrics.draw_pairs(np.random.default_rng(5), 30, 10)
    np.testing.assert_array_equal(first, again[0])
    assert len(set(first.tolist())) == 10 and len(set(second.tolist())) == 10
    with pytest.raises(ValueError, match="cannot draw 31 distinct indices out of 30"):
        metrics.draw_pairs(np.random.default_rng(0), 30, 31)


def test_mean_and_interval():
    mean, ci = metrics.mean_and_interval(np.array([1.0, 2.0, 3.0, 4.0]))
    assert mean == pytest.approx(2.5)
    assert ci == pytest.approx(1.96 * np.std([1, 2, 3, 4]) / 2)


def test_bad_shapes_raise_clear_errors():
    with pytest.raises(ValueError, match="must pair row by row"):
        metrics.r_precision(np.zeros((4, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="2-D array"):
        metrics.fid(np.zeros(5), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="num_texts, num_repeats, dim"):
        metrics.multimodality(np.zeros((4, 3)), [0], [1])
