"""The procedural interaction world: determinism, valid kinematics, planted feet, reaching hands, captions
that name the hand that moves (also after mirroring), splits and the cached reader."""

import dataclasses
import re

import numpy as np
import pytest
import torch

from intermamba import rotations, skeleton
from intermamba.config import load_config
from intermamba.data.synthetic import KIND_NAMES, generate, kind_of, load_split, read_items, split_of
from intermamba.data.synthetic import gait, kinds, rig
from intermamba.motion import mirror_joints, mirror_text, pair_to_features

SEEDS = (0, 1, 2)  # items per kind checked (each a different draw of timing, side, initiator ...)
SLIDE_TOLERANCE = 1e-3  # metres a planted toe may move between two planted frames
TOUCH_TOLERANCE = 0.03  # metres between hands meant to touch
L_WRIST, R_WRIST = skeleton.JOINT_INDEX["l_wrist"], skeleton.JOINT_INDEX["r_wrist"]
L_ANKLE, R_ANKLE = skeleton.JOINT_INDEX["l_ankle"], skeleton.JOINT_INDEX["r_ankle"]
TOES = (skeleton.JOINT_INDEX["l_foot"], skeleton.JOINT_INDEX["r_foot"])
CHEST = skeleton.JOINT_INDEX["spine3"]
PELVIS = skeleton.JOINT_INDEX["pelvis"]


@pytest.fixture(scope="module")
def samples():
    """Several items of every kind (generated once for the module)."""
    return [generate(KIND_NAMES.index(k) + len(KIND_NAMES) * r) for k in KIND_NAMES for r in SEEDS]


def test_at_least_fifteen_kinds_and_round_robin():
    assert len(KIND_NAMES) >= 15
    assert [kind_of(i) for i in range(len(KIND_NAMES))] == list(KIND_NAMES)


def test_deterministic_from_seed():
    a, b, c = generate(5, seed=3), generate(5, seed=3), generate(5, seed=4)
    np.testing.assert_array_equal(a.positions, b.positions)
    np.testing.assert_array_equal(a.rotations, b.rotations)
    assert a.texts == b.texts
    assert a.positions.shape != c.positions.shape or not np.allclose(a.positions, c.positions)


def test_unknown_kind_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown synthetic kind 'nope'; known kinds: handshake"):
        generate(0, kind="nope")


def test_every_kind_has_valid_shapes_lengths_and_captions(samples):
    seen = set()
    for s in samples:
        T = s.positions.shape[1]
        assert s.positions.shape == (2, T, skeleton.NUM_JOINTS, 3) and s.positions.dtype == np.float32
        assert s.rotations.shape == (2, T, skeleton.NUM_ROT_JOINTS, skeleton.ROT6D_DIM)
        assert 2 * skeleton.FPS <= T <= skeleton.MAX_FRAMES, (s.kind, T)
        assert np.isfinite(s.positions).all() and np.isfinite(s.rotations).all()
        assert len(s.texts) == 3 and len(set(s.texts)) == 3
        assert all(t and "{" not in t and "\t" not in t for t in s.texts)
        # People stand on the floor and never sink through it (per person, as InterGen floors them).
        floor = s.positions[..., 1].min(axis=(1, 2))
        assert np.all(np.abs(floor - floor.mean()) < 0.02), s.kind
        seen.add(s.kind)
    assert seen == set(KIND_NAMES)


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_positions_are_forward_kinematics_of_the_rotations(kind):
    scene = kinds.KINDS[kind](np.random.default_rng(7))
    for person in scene.people:
        local = torch.from_numpy(person.local)
        fk = skeleton.forward_kinematics(local, torch.from_numpy(person.joints[:, 0])).numpy()
        np.testing.assert_allclose(fk, person.joints, atol=1e-9)
        # The stored 6D is the InterHuman layout of the same local rotations.
        d6 = rotations.matrix_to_rot6d(local[:, 1:]).numpy()
        np.testing.assert_allclose(d6, person.local[:, 1:, :, :2].reshape(*d6.shape), atol=1e-12)
        back = rotations.rot6d_to_matrix(torch.from_numpy(d6)).numpy()
        np.testing.assert_allclose(back, person.local[:, 1:], atol=1e-6)


def test_planted_feet_do_not_slide(samples):
    for s in samples:
        for p in range(2):
            for foot, toe in enumerate(TOES):
                planted = s.stance[p, foot, 1:] & s.stance[p, foot, :-1]
                step = np.linalg.norm(np.diff(s.positions[p, :, toe], axis=0), axis=-1)
                assert planted.any(), (s.kind, p, foot)
                assert step[planted].max() < SLIDE_TOLERANCE, (s.kind, p, foot, step[planted].max())


def test_feet_contacts_in_the_features(samples):
    """InterGen's contact rule finds feet on the ground for every person of every kind."""
    for s in samples:
        feats = pair_to_features(torch.from_numpy(s.positions), torch.from_numpy(s.rotations))
        contacts = feats[..., skeleton.CONTACT].numpy()  # (T-1, 2, 4)
        rate = contacts.mean(axis=(0, 2))
        assert (rate > 0.3).all(), (s.kind, rate)


def test_walking_alternates_feet_and_advances():
    T = 150
    xz = np.stack([np.zeros(T), 1.2 * np.arange(T) / skeleton.FPS], -1)
    steps = gait.plan_steps(xz, np.zeros(T))
    sides = [side for side, _, _ in steps.swings]
    assert len(sides) >= 6
    assert all(a != b for a, b in zip(sides, sides[1:]))
    assert np.all(steps.stance.any(0))  # never both feet in the air while walking


def test_standing_still_takes_no_steps():
    T = 90
    steps = gait.plan_steps(np.zeros((T, 2)), np.zeros(T))
    assert steps.swings == [] and steps.stance.all()


def test_two_bone_ik_reaches_reachable_targets():
    rng = np.random.default_rng(0)
    root = rng.normal(size=(50, 3))
    target = root + rig.unit(rng.normal(size=(50, 3))) * rng.uniform(0.1, 0.5, size=(50, 1))
    middle, end, _ = rig.two_bone_ik(root, target, rng.normal(size=(50, 3)), 0.26, 0.27)
    np.testing.assert_allclose(end, target, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(middle - root, axis=-1), 0.26, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(end - middle, axis=-1), 0.27, atol=1e-9)


def test_hands_meet_at_the_contact_moment(samples):
    touching = [s for s in samples if s.contacts]
    assert {s.kind for s in touching} >= {"handshake", "high_five", "hand_over", "dance", "pull_arm"}
    for s in touching:
        for frame, pa, ja, pb, jb in s.contacts:
            gap = np.linalg.norm(s.positions[pa, frame, ja] - s.positions[pb, frame, jb])
            assert gap < TOUCH_TOLERANCE, (s.kind, gap)


def _limb_travel(positions: np.ndarray, person: int, joint: int) -> float:
    """How far a joint moves relative to the chest (so walking does not count)."""
    rel = positions[person, :, joint] - positions[person, :, CHEST]
    return float(np.linalg.norm(np.diff(rel, axis=0), axis=-1).sum())


def _named_side(text: str):
    """The one side word a caption uses, or None for a generic caption ("two people shake hands.")."""
    words = set(re.findall(r"\b(left|right)\b", text))
    assert len(words) <= 1, text
    return words.pop() if words else None


@pytest.mark.parametrize("mirrored", [False, True])
def test_the_named_hand_is_the_one_that_moves(samples, mirrored):
    """Captions that name a hand (or a leg) name the one that moves most, also after mirror_text + mirroring."""
    checked = 0
    for s in samples:
        if s.hand_actor is None or s.kind in ("pass_by", "pull_arm"):
            continue  # pull_arm names both people's hands; pass_by names a walking side
        positions = mirror_joints(s.positions) if mirrored else s.positions
        for text in s.texts:
            side = _named_side(mirror_text(text) if mirrored else text)
            if side is None:
                continue
            if s.kind == "kick":
                named, other = (L_ANKLE, R_ANKLE) if side == "left" else (R_ANKLE, L_ANKLE)
            else:
                named, other = (L_WRIST, R_WRIST) if side == "left" else (R_WRIST, L_WRIST)
            assert _limb_travel(positions, s.hand_actor, named) > _limb_travel(positions, s.hand_actor, other), \
                (s.kind, text)
        checked += 1
    assert checked >= 20


def _turn_sense(a: np.ndarray, b: np.ndarray) -> float:
    """Total rotation (radians, + = counterclockwise seen from above) of the line from a to b on the floor."""
    d = b[:, [0, 2]] - a[:, [0, 2]]
    angle = np.unwrap(np.arctan2(d[:, 0], d[:, 1]))  # a rotation about +Y increases this angle
    return float(angle[-1] - angle[0])


def test_clockwise_and_turn_words_match_the_motion():
    for kind in ("circle", "dance"):
        for i in range(4):
            s = generate(KIND_NAMES.index(kind) + len(KIND_NAMES) * i)
            sense = _turn_sense(s.positions[0, :, PELVIS], s.positions[1, :, PELVIS])
            word = "counterclockwise" if "counterclockwise" in s.texts[0] else "clockwise"
            assert (sense > 0) == (word == "counterclockwise"), (kind, sense, s.texts[0])
            mirrored = mirror_joints(s.positions)
            m_sense = _turn_sense(mirrored[0, :, PELVIS], mirrored[1, :, PELVIS])
            assert ("counterclockwise" in mirror_text(s.texts[0])) == (m_sense > 0)
    for i in range(8):
        s = generate(KIND_NAMES.index("side_by_side") + len(KIND_NAMES) * i)
        if s.side is None:
            continue
        hips = s.positions[0, :, skeleton.FACE_HIP_LEFT] - s.positions[0, :, skeleton.FACE_HIP_RIGHT]
        heading = np.unwrap(np.arctan2(-hips[:, 2], hips[:, 0]))  # facing = left-hip direction turned by -90
        turned = heading[-1] - heading[0]
        assert (turned > 0) == (s.side == "left"), (turned, s.texts)


def test_splits_are_disjoint_and_balanced():
    n = 180 * 2
    counts = {sp: sum(split_of(i) == sp for i in range(n)) for sp in ("train", "val", "test")}
    assert counts == {"train": 288, "val": 36, "test": 36}
    for sp in ("val", "test"):
        assert {kind_of(i) for i in range(n) if split_of(i) == sp} == set(KIND_NAMES)


def test_reader_builds_batches_and_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERMAMBA_CACHE", str(tmp_path))
    cfg = load_config("tiny", ["data.synthetic_items=40"]).data
    items = read_items(cfg, "val")
    assert len(items) == sum(split_of(i) == "val" for i in range(40)) > 0
    assert all(it.kind in KIND_NAMES and len(it.texts) == 3 for it in items)
    cached = list(tmp_path.rglob("positions.npy"))
    assert len(cached) == 1
    again = read_items(cfg, "val")  # from the memory-mapped cache
    for a, b in zip(items, again):
        np.testing.assert_array_equal(a.arrays()[0], b.arrays()[0])
        assert a.texts == b.texts and a.name == b.name and a.frames == b.frames
    fresh = generate(int(items[0].name.rsplit("_", 1)[1]), cfg.seed)
    np.testing.assert_array_equal(items[0].arrays()[0], fresh.positions)
    np.testing.assert_array_equal(items[0].arrays()[1], fresh.rotations)

    from intermamba.data import build_dataset, collate
    ds = build_dataset(dataclasses.replace(cfg, max_frames=64), "val")
    batch = collate([ds[i] for i in range(2)])
    assert batch["motion"].shape == (2, 64, 2, skeleton.FEATURE_DIM)
    assert batch["lengths"].dtype == torch.int64


def test_load_split_without_cache_matches(tmp_path, monkeypatch):
    monkeypatch.setenv("INTERMAMBA_CACHE", str(tmp_path))
    names, lengths, positions, rotations_, texts, kinds_ = load_split(20, 1, "train", cache=False, progress=False)
    assert not any(tmp_path.iterdir())
    assert len(names) == len(lengths) == len(texts) == len(kinds_)
    assert positions.shape[1] == rotations_.shape[1] == lengths.sum()


def test_writes_itself_in_the_interhuman_layout(tmp_path):
    from intermamba.cli import main
    from intermamba.data.interhuman import read_items as read_interhuman

    out = tmp_path / "world"
    assert main(["data", "write", str(out), "--items", "40", "--seed", "2"]) == 0
    assert (out / "split" / "val.txt").is_file() and (out / "annots").is_dir()
    cfg = dataclasses.replace(load_config("tiny").data, dataset="interhuman", root=str(out))
    items = read_interhuman(cfg, "val")
    assert len(items) == sum(split_of(i) == "val" for i in range(40))
    for it in items[:3]:
        s = generate(int(it.name.rsplit("_", 1)[1]), seed=2)
        positions, rot6d = it.arrays()
        np.testing.assert_allclose(positions, s.positions, atol=1e-5)
        np.testing.assert_allclose(rot6d, s.rotations, atol=1e-6)
        assert it.texts == s.texts
    assert main(["data", "write", str(out), "--items", "5"]) == 2  # never writes into a non-empty folder
