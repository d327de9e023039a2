"""The replicated protocol end to end on toy data: determinism, sanity of the Real row, stand-in generators."""

import json

import numpy as np
import pytest
import torch

from evaluation_toys import HashTextEncoder, ToyDataset
from intermamba.config import EvalConfig, load_config
from intermamba.evaluation.evaluator import Evaluator
from intermamba.evaluation.protocol import METRICS, QUALITY, REAL, evaluate, resolve_settings
from intermamba.evaluation.contrastive import fit
from intermamba.skeleton import FEATURE_DIM

SETTINGS = dict(batch_size=12, replications=2, diversity_times=20, mm_num_samples=3, mm_num_repeats=4,
                mm_num_times=2, gen_batch_size=8)


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    ev = Evaluator.from_config("tiny", HashTextEncoder())
    fit(ev, ToyDataset(60, seed=0), steps=120, batch_size=12, lr=3e-3, progress=False)
    return ev


@pytest.fixture(scope="module")
def test_set():
    return ToyDataset(48, seed=1)


def _settings(**kw):
    return resolve_settings(EvalConfig(), **{**SETTINGS, **kw})


def real_motion(dataset):
    """A stand-in generator that returns real motion of the caption's kind at the asked length."""
    from evaluation_toys import CAPTIONS

    def generate(texts, lengths, seed):
        rng = np.random.default_rng(seed)
        out = np.zeros((len(texts), max(lengths), 2, FEATURE_DIM), np.float32)
        for b, (text, length) in enumerate(zip(texts, lengths)):
            candidates = np.flatnonzero(dataset.kind == CAPTIONS.index(text))
            out[b] = dataset.motion(rng.choice(candidates), int(length))[: max(lengths)]
        return out
    return generate


def noise(texts, lengths, seed):
    return np.random.default_rng(seed).normal(size=(len(texts), max(lengths), 2, FEATURE_DIM)).astype(np.float32)


def test_presets_and_quick_settings():
    s = resolve_settings(EvalConfig())
    assert (s.batch_size, s.emb_scale, s.diversity_divide_by, s.replications) == (96, 6.0, 2.0, 20)
    assert (s.mm_num_samples, s.mm_num_repeats, s.mm_num_times, s.diversity_times) == (100, 30, 10, 300)
    x = resolve_settings(EvalConfig(preset="interx"))
    assert (x.batch_size, x.emb_scale, x.diversity_divide_by) == (32, 1.0, 1.0)
    q = resolve_settings(EvalConfig(), quick=True)
    assert q.quick and q.replications < 20 and q.batch_size < 96
    assert resolve_settings(EvalConfig(), quick=True, replications=3).replications == 3
    with pytest.raises(ValueError, match="mm_num_times .* cannot exceed"):
        resolve_settings(EvalConfig(mm_num_times=40))
    tiny = load_config("tiny").eval
    assert resolve_settings(tiny).batch_size == tiny.batch_size


def test_real_row_is_sane_and_model_rows_rank_correctly(trained, test_set):
    result = evaluate(test_set, trained, {"copy": real_motion(test_set), "noise": noise}, _settings(), progress=False)
    s = result.summary()
    assert list(s) == [REAL, "copy", "noise"]
    assert "mmodality" not in s[REAL] and set(s["copy"]) == set(METRICS) | set(QUALITY)
    # Real vs a fresh pass over real data: FID near 0 (against noise's); matched pairs far above chance
    # (top-3 chance: 3/12). Copying real motion scores like Real; noise is far away and at chance.
    noise_fid = s["noise"]["fid"]["mean"]
    assert s[REAL]["fid"]["mean"] < 0.05 * noise_fid and s["copy"]["fid"]["mean"] < 0.05 * noise_fid
    assert s[REAL]["r_precision_top3"]["mean"] > 0.8
    assert s["copy"]["r_precision_top3"]["mean"] > 0.8
    assert s["noise"]["r_precision_top3"]["mean"] < 0.5
    assert s["noise"]["mm_dist"]["mean"] > s["copy"]["mm_dist"]["mean"]
    for row in s.values():
        for name in ("r_precision_top1", "r_precision_top2", "r_precision_top3"):
            assert 0.0 <= row[name]["mean"] <= 1.0
        assert row["r_precision_top1"]["mean"] <= row["r_precision_top2"]["mean"] <= row["r_precision_top3"]["mean"]
    assert len(result.values["copy"]["fid"]) == 2                    # one value per replication


def test_interaction_quality_is_scored_on_the_raw_output_beside_real(trained, test_set):
    def merged(texts, lengths, seed):            # both people on one skeleton, as a collapsed model makes them
        out = real_motion(test_set)(texts, lengths, seed)
        out[:, :, 1] = out[:, :, 0]
        return out

    result = evaluate(test_set, trained, {"merged": merged, "copy": real_motion(test_set)}, _settings(),
                      progress=False)
    s = result.summary()
    assert s["merged"]["merged"]["mean"] == 1.0 and s["merged"]["min_pelvis_gap"]["mean"] == 0.0
    assert s[REAL]["merged"]["mean"] == 0.0 and s["copy"]["merged"]["mean"] == 0.0
    assert s["merged"]["penetration_rate"]["mean"] == 1.0
    assert len(result.values["merged"]["jitter"]) == 2                 # one value per replication, like FID
    # Real scores the items the models are asked for: a model copying the very same items scores like Real.
    assert s["copy"]["bone_drift"]["mean"] == pytest.approx(s[REAL]["bone_drift"]["mean"], rel=0.5)
    md = result.to_markdown()
    assert "| Interaction quality | Interpen. frames %" in md and "| merged | " in md
    assert result.info["touching_items"] == 24                         # shake hands, push, hug: 3 of 6 captions


def test_protocol_is_deterministic(trained, test_set):
    a = evaluate(test_set, trained, {"noise": noise}, _settings(), progress=False)
    b = evaluate(test_set, trained, {"noise": noise}, _settings(), progress=False)
    assert a.values == b.values
    c = evaluate(test_set, trained, {"noise": noise}, _settings(seed=1), progress=False)
    assert c.values != a.values


def test_a_models_numbers_do_not_depend_on_the_other_rows(trained, test_set):
    alone = evaluate(test_set, trained, {"noise": noise}, _settings(), progress=False)
    together = evaluate(test_set, trained, {"copy": real_motion(test_set), "noise": noise}, _settings(),
                        progress=False)
    assert together.values["noise"] == alone.values["noise"]
    assert together.values[REAL] == alone.values[REAL]


def test_generation_uses_ground_truth_lengths_and_mmodality_repeats(trained, test_set):
    calls = []

    def spy(texts, lengths, seed):
        calls.append((list(texts), np.asarray(lengths).copy(), seed))
        return noise(texts, lengths, seed)

    settings = _settings(replications=1)
    evaluate(test_set, trained, {"spy": spy}, settings, progress=False)
    sizes = [len(t) for t, _, _ in calls]
    mm_calls = [c for c in calls if len(c[0]) == settings.mm_num_repeats and len(set(c[0])) == 1
                and len(set(c[1].tolist())) == 1]
    assert len(mm_calls) >= settings.mm_num_samples
    assert sum(sizes) == len(test_set) + settings.mm_num_samples * (settings.mm_num_repeats - 1)
    lengths = np.concatenate([l for _, l, _ in calls])
    assert lengths.min() >= test_set.min_frames and lengths.max() <= test_set.max_frames
    assert len({seed for _, _, seed in calls}) == len(calls)            # every call its own seed


def test_results_are_written_as_json_and_markdown(trained, test_set, tmp_path):
    result = evaluate(test_set, trained, {"noise": noise}, _settings(replications=2), progress=False)
    json_path, md_path = result.save(tmp_path)
    data = json.loads(json_path.read_text())
    assert set(data["summary"]) == {REAL, "noise"}
    assert data["settings"]["batch_size"] == SETTINGS["batch_size"]
    md = md_path.read_text()
    assert md.splitlines()[0].startswith("| Methods | R-Precision Top 1")
    assert "| Real |" in md and "| noise |" in md and " ± " in md
    assert md.splitlines()[2].rstrip().endswith("| - |")                # Real has no MModality
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json", "results.md"]


def test_bad_inputs_are_reported(trained, test_set):
    with pytest.raises(ValueError, match="fewer than one evaluation batch"):
        evaluate(ToyDataset(8), trained, {}, _settings(), progress=False)

    def wrong_shape(texts, lengths, seed):
        return np.zeros((len(texts), 3, 2, FEATURE_DIM))
    with pytest.raises(ValueError, match=r"generate\(\) must return"):
        evaluate(test_set, trained, {"bad": wrong_shape}, _settings(replications=1), progress=False)
    with pytest.raises(ValueError, match="cannot be called 'Real'"):
        evaluate(test_set, trained, {REAL: noise}, _settings(), progress=False)


# ------------------------------------------------------------------------------------ the CLI, end to end
KIND_CAPTIONS = ("two people walk side by side", "one person jumps in place", "they stand and sway")


@pytest.fixture(scope="module")
def interhuman_root(tmp_path_factory):
    """A small dataset in InterHuman's on-disk layout: three kinds of simple root motion."""
    from intermamba.data.interhuman import write_interhuman_item
    from intermamba.rotations import matrix_to_rot6d
    from intermamba.skeleton import NUM_ROT_JOINTS, rest_pose

    root = tmp_path_factory.mktemp("interhuman")
    rng = np.random.default_rng(0)
    rest = rest_pose().numpy()                                            # (22, 3)
    identity = matrix_to_rot6d(torch.eye(3)).numpy()                      # (6,)
    for split, n in (("train", 24), ("val", 12), ("test", 24)):
        for i in range(n):
            kind, T = i % 3, int(rng.integers(24, 60))
            t = np.arange(T, dtype=np.float32)[:, None]
            pos = np.broadcast_to(rest, (2, T, 22, 3)).copy()
            pos[1, ..., 0] += 1.0 + 0.1 * rng.random()                     # person 2 beside person 1
            if kind == 0:
                pos[..., 2] += (0.03 * t)[None]                            # both walk forward
            elif kind == 1:
                pos[0, ..., 1] += 0.2 * np.abs(np.sin(0.3 * t))           # person 1 hops
            else:
                pos[..., 0] += (0.05 * np.sin(0.1 * t + rng.random()))[None]   # both sway sideways
            rot = np.broadcast_to(identity, (2, T, NUM_ROT_JOINTS, 6)).copy()
            write_interhuman_item(root, f"{split}{i:03d}", pos, rot, [KIND_CAPTIONS[kind]], split=split)
    return root


@pytest.fixture(scope="module")
def cli_evaluator(interhuman_root, tmp_path_factory):
    from intermamba.cli import main

    out = tmp_path_factory.mktemp("evaluator")
    code = main(["train-evaluator", "--config", "tiny", "data.dataset=interhuman", f"data.root={interhuman_root}",
                 "--preset", "tiny", "--steps", "40", "--out", str(out)])
    assert code == 0
    return out / "evaluator.safetensors"


def test_cli_train_evaluator_writes_weights_and_report(cli_evaluator):
    report = json.loads((cli_evaluator.parent / "evaluator.json").read_text())
    assert report["steps"] == 40 and report["preset"] == "tiny"
    assert len(report["val"]["r_precision"]) == 3
    assert Evaluator.load(cli_evaluator).config.embed_dim == 16


def test_cli_eval_real_only(cli_evaluator, interhuman_root, tmp_path, capsys):
    from intermamba.cli import main

    code = main(["eval", "--real-only", "--quick", "--evaluator", str(cli_evaluator), "--dataset",
                 f"interhuman:{interhuman_root}", "--batch-size", "8", "--out", str(tmp_path), "--no-progress",
                 "eval.diversity_times=5"])
    assert code == 0
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["settings"]["diversity_times"] == 5 and data["settings"]["batch_size"] == 8
    assert list(data["summary"]) == [REAL] and data["info"]["dataset"] == "interhuman"
    assert "| Real |" in capsys.readouterr().out


def test_cli_eval_interx_preset(cli_evaluator, interhuman_root, tmp_path):
    from intermamba.cli import main

    assert main(["eval", "--real-only", "--quick", "--preset", "interx", "--evaluator", str(cli_evaluator),
                 "--dataset", f"interhuman:{interhuman_root}", "--batch-size", "8", "--out", str(tmp_path),
                 "--no-progress"]) == 0
    settings = json.loads((tmp_path / "results.json").read_text())["settings"]
    assert (settings["preset"], settings["emb_scale"], settings["diversity_divide_by"]) == ("interx", 1.0, 1.0)


def test_cli_eval_with_a_model_checkpoint(cli_evaluator, interhuman_root, tmp_path, capsys):
    from intermamba import build_model
    from intermamba.checkpoint import save_pretrained
    from intermamba.cli import main
    from intermamba.data import build_dataset, compute_normalizer

    cfg = load_config("tiny", ["data.dataset=interhuman", f"data.root={interhuman_root}"])
    torch.manual_seed(0)
    folder = save_pretrained(tmp_path / "model", build_model(cfg), cfg,
                             compute_normalizer(build_dataset(cfg.data, "train")))
    args = ["eval", "--checkpoint", str(folder), "--evaluator", str(cli_evaluator), "--quick", "--batch-size", "8",
            "--max-items", "16", "--steps", "2", "--device", "cpu", "--name", "tiny", "--no-progress"]
    assert main(args + ["--out", str(tmp_path / "a")]) == 0
    assert main(args + ["--out", str(tmp_path / "b")]) == 0
    a = json.loads((tmp_path / "a" / "results.json").read_text())
    b = json.loads((tmp_path / "b" / "results.json").read_text())
    assert list(a["summary"]) == [REAL, "tiny"]
    # No caption of this data says that hands touch, so there is no contact accuracy.
    assert set(a["summary"]["tiny"]) == set(METRICS) | set(QUALITY) - {"contact_accuracy"}
    assert a["replications"] == b["replications"]                          # seeded and deterministic
    # Sampling arguments are checked before any evaluation work: one line, exit 2, nothing written.
    capsys.readouterr()
    for bad, message in ((["--steps", "5000"], "--steps 5000 is more than this model's 1000 diffusion timesteps"),
                         (["--guidance", "nan"], "--guidance must be a finite number, got nan")):
        assert main(args + bad + ["--out", str(tmp_path / "c")]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
        assert not (tmp_path / "c").exists()
    # Several checkpoints in one run: every model meets the same captions, lengths and seeds, so a model's row is
    # the one it gets alone; two rows of one name, or names that do not pair with the checkpoints, are one line.
    torch.manual_seed(1)
    other_model = build_model(cfg)
    with torch.no_grad():
        other_model.output_proj.weight.normal_(0.0, 0.05)     # untrained models all predict zeros: make it differ
    other = save_pretrained(tmp_path / "other", other_model, cfg, compute_normalizer(build_dataset(cfg.data, "train")))
    both = ["eval", "--checkpoint", str(folder), "--checkpoint", str(other), "--name", "tiny", "--name", "other",
            *args[3:args.index("--name")], *args[args.index("--name") + 2:]]
    assert main(both + ["--out", str(tmp_path / "d")]) == 0
    d = json.loads((tmp_path / "d" / "results.json").read_text())
    assert list(d["summary"]) == [REAL, "tiny", "other"]
    assert d["summary"]["tiny"] == a["summary"]["tiny"]
    assert d["summary"]["other"] != a["summary"]["tiny"]
    capsys.readouterr()
    assert main(both[:5] + both[7:] + ["--out", str(tmp_path / "e")]) == 2          # one --name for two models
    assert "one --name per --checkpoint" in capsys.readouterr().err


def test_cli_eval_bad_inputs(cli_evaluator, tmp_path, capsys):
    from intermamba.cli import main

    assert main(["eval", "--real-only", "--evaluator", str(tmp_path / "none.safetensors")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["eval", "--real-only", "--evaluator", str(cli_evaluator), "--dataset", "interhuman"]) == 2
    assert "needs its folder" in capsys.readouterr().err
    assert main(["eval", "--real-only", "--evaluator", str(cli_evaluator), "--dataset", "mocap:/x"]) == 2
    assert "unknown dataset 'mocap'" in capsys.readouterr().err
    assert main(["eval", "--real-only", "--evaluator", str(cli_evaluator), "--replications", "0"]) == 2
    assert "--replications must be at least 1" in capsys.readouterr().err
