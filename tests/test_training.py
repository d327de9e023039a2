import csv
import json
import logging
import os
import subprocess
import sys
import shutil
import signal
import textwrap
import time
from pathlib import Path

import pytest
import torch

from intermamba import ConfigError
from intermamba.checkpoint import CheckpointError, load_pretrained, save_pretrained
from intermamba.cli import main as cli_main
from intermamba.config import TextConfig, load_config
from intermamba.fusion_plot import plot_fusion, read_fusion_log
from intermamba.motion import Normalizer
from intermamba.text import build_text_encoder
from intermamba.training import DiffusionModule, StepLoader, TrainingError, read_checkpoint, train

sys.path.insert(0, str(Path(__file__).parent))
from training_toys import logged_rows as _rows, toy_dataset  # noqa: E402

QUIET = dict(enable_progress_bar=False)


@pytest.fixture(scope="module")
def encoder():
    return build_text_encoder(TextConfig())


@pytest.fixture(scope="module")
def dataset():
    return toy_dataset(12)


def _cfg(*overrides):
    return load_config("tiny", ["train.batch_size=4", "train.log_every=1", *overrides])


def test_tiny_run_writes_checkpoints_logs_and_an_export(tmp_path, dataset, encoder):
    cfg = _cfg("train.max_steps=4", "train.ckpt_every=2")
    run = train(cfg, run_dir=tmp_path / "run", dataset=dataset, text_encoder=encoder, trainer_overrides=QUIET)
    for name in ["config.json", "normalizer.safetensors", "checkpoints/last.ckpt", "export/model.safetensors",
                 "export/config.json", "logs/version_0/metrics.csv"]:
        assert (run / name).is_file(), name
    rows = _rows(run)
    assert len(rows) == 4
    for key in ["train/simple", "train/vel", "train/foot", "train/bone", "train/dist_map", "train/joint_affinity",
                "train/rel_orient", "fusion/layer0.w_alpha", "fusion/layer0.w_beta", "fusion/layer0.alpha_c",
                "fusion/layer0.beta_c"]:
        assert rows[-1][key] != "", key
    model, loaded_cfg, normalizer = load_pretrained(run / "export")
    assert loaded_cfg == cfg
    meta = json.loads((run / "export" / "config.json").read_text())
    assert meta["training"]["steps"] == 4 and meta["text_encoder"] == "minilm"
    # the checkpoint holds the trainable weights and the normaliser, not the frozen text encoder
    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert "norm_mean" in state and not any("text" in k and "encoder" in k and "model." not in k for k in state)
    assert all(k.startswith(("model.", "norm_")) for k in state)
    torch.testing.assert_close(model.state_dict(), {k[len("model."):]: v for k, v in state.items() if k.startswith("model.")})


# The killed start: a Lightning callback, added to the run the CLI builds, that at step HANG_AT (after the first
# checkpoint) opens an atomic write of a checkpoint-sized file, writes part of it, says so and waits to be killed.
KILLED_CLI = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import lightning as L
    import intermamba.training as training
    from intermamba.cli import main
    from intermamba.fileio import atomic_path

    hang_at, marker = int(sys.argv[1]), Path(sys.argv[2])

    class Hang(L.Callback):
        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            if trainer.global_step == hang_at:
                with atomic_path(Path(trainer.default_root_dir) / "checkpoints" / "step=9999999.ckpt") as tmp:
                    tmp.write_bytes(bytes(1 << 20))
                    marker.touch()
                    time.sleep(600)

    build = training.build_trainer
    training.build_trainer = lambda *a, callbacks=None, **k: build(*a, callbacks=[*(callbacks or []), Hang()], **k)
    sys.exit(main(sys.argv[3:]))
""")


def _cli_train(run, *overrides):
    """The argv of `intermamba train` on a tiny run of the procedural world: 10 entries / batch 4 = 2 steps per
    epoch, so the kill at step 5 lands mid-epoch and the resume crosses epochs; so few items that captions recur
    across the resume point (when features depended on the batch a caption was first encoded in, two of the
    captions of steps 4-7 came out different in the last bits after a restart)."""
    return ["train", "--config", "tiny", "--run-dir", str(run), "data.synthetic_items=5", "train.max_steps=8",
            "train.ckpt_every=4", "train.ema_decay=0.9", *overrides]


def test_interrupted_run_resumes_identically(tmp_path):
    # Real processes, as a user meets them: a straight run; a run SIGKILLed after its first checkpoint (with a
    # half-written file open) and started again with the same command in a fresh process, whose text encoder
    # starts with an empty cache and meets its captions in other batches. Both must end bit for bit equal.
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cli = [sys.executable, "-m", "intermamba.cli"]
    marker = tmp_path / "hanging"
    straight = subprocess.Popen(cli + _cli_train(tmp_path / "a"), env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    killed = subprocess.Popen([sys.executable, "-c", KILLED_CLI, "5", str(marker)] + _cli_train(tmp_path / "b"),
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 500
    while not marker.exists() and killed.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert marker.exists(), killed.stderr.read()[-3000:] if killed.poll() is not None else "no hang"
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    ckpts = tmp_path / "b" / "checkpoints"
    assert read_checkpoint(ckpts / "last.ckpt")["global_step"] == 4
    assert [p.name for p in ckpts.glob(".step=9999999.*.tmp.ckpt")]             # the kill's litter
    out, err = straight.communicate(timeout=500)
    assert straight.returncode == 0, err[-3000:]
    resumed = subprocess.run(cli + _cli_train(tmp_path / "b"), env=env, capture_output=True, text=True, timeout=500)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resuming" in resumed.stdout + resumed.stderr
    a = read_checkpoint(tmp_path / "a" / "checkpoints" / "last.ckpt")
    b = read_checkpoint(ckpts / "last.ckpt")
    assert a["global_step"] == b["global_step"] == 8
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k]), k
    loss_a = [float(r["train/loss"]) for r in _rows(tmp_path / "a")]
    loss_b = {int(r["step"]): float(r["train/loss"]) for r in _rows(tmp_path / "b")}
    assert [loss_b[s] for s in range(8)] == loss_a   # the same batches, noise, timesteps and text features
    # no litter, one step file, and results with the usual permissions
    assert sorted(p.name for p in ckpts.iterdir()) == ["last.ckpt", "step=0000008.ckpt"]
    assert not [p for p in (tmp_path / "b").rglob(".*") if ".tmp" in p.name]
    mode = 0o666 & ~_umask()
    for name in ("export/model.safetensors", "export/config.json", "normalizer.safetensors", "config.json"):
        assert (tmp_path / "b" / name).stat().st_mode & 0o777 == mode, name


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_run_folder_guards(tmp_path, dataset, encoder):
    with pytest.raises(TrainingError, match="no checkpoint"):
        train(_cfg(), run_dir=tmp_path / "x", resume=True, dataset=dataset, text_encoder=encoder)
    cfg = _cfg("train.max_steps=2", "train.ckpt_every=2")
    train(cfg, run_dir=tmp_path / "y", dataset=dataset, text_encoder=encoder, trainer_overrides=QUIET)
    with pytest.raises(TrainingError, match="already holds a run"):
        train(cfg, run_dir=tmp_path / "y", resume=False, dataset=dataset, text_encoder=encoder)
    with pytest.raises(TrainingError, match="different model"):
        train(_cfg("model.latent_dim=16"), run_dir=tmp_path / "y", dataset=dataset, text_encoder=encoder)
    with pytest.raises(TrainingError, match="needs a GPU"):
        train(_cfg("train.precision=16-mixed", "train.accelerator=cpu"), run_dir=tmp_path / "z", dataset=dataset)


def _damage(path, how):
    if how == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path.write_bytes(b"\x00garbage" * 100)


@pytest.mark.parametrize("how", ["truncated", "garbage"])
def test_a_damaged_last_checkpoint_falls_back_to_the_step_file(tmp_path, dataset, encoder, caplog, how):
    run = tmp_path / "run"
    train(_cfg("train.max_steps=4", "train.ckpt_every=2"), run_dir=run, dataset=dataset, text_encoder=encoder,
          trainer_overrides=QUIET)
    _damage(run / "checkpoints" / "last.ckpt", how)
    with caplog.at_level(logging.INFO):
        train(_cfg("train.max_steps=6", "train.ckpt_every=2"), run_dir=run, dataset=dataset, text_encoder=encoder,
              trainer_overrides=QUIET)
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("intermamba:")]
    assert any("skipping a damaged checkpoint" in m and "last.ckpt" in m for m in said), said
    assert any("from step 4 (step=0000004.ckpt)" in m for m in said), said
    assert all("\n" not in m for m in said)
    # the file resumed from is pruned too (Lightning spares it), and the run went on to step 6
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["last.ckpt", "step=0000006.ckpt"]
    assert read_checkpoint(run / "checkpoints" / "last.ckpt")["global_step"] == 6


def test_a_newer_step_file_wins_over_an_older_last_checkpoint(tmp_path, dataset, encoder, caplog):
    # a kill between writing step=N.ckpt and last.ckpt leaves last one checkpoint behind
    run = tmp_path / "run"
    train(_cfg("train.max_steps=2", "train.ckpt_every=2"), run_dir=run, dataset=dataset, text_encoder=encoder,
          trainer_overrides=QUIET)
    older = (run / "checkpoints" / "last.ckpt").read_bytes()
    train(_cfg("train.max_steps=4", "train.ckpt_every=2"), run_dir=run, dataset=dataset, text_encoder=encoder,
          trainer_overrides=QUIET)
    (run / "checkpoints" / "last.ckpt").write_bytes(older)
    with caplog.at_level(logging.INFO):
        train(_cfg("train.max_steps=4", "train.ckpt_every=2"), run_dir=run, dataset=dataset, text_encoder=encoder,
              trainer_overrides=QUIET)
    assert any("from step 4 (step=0000004.ckpt)" in r.getMessage() for r in caplog.records)


def test_a_run_folder_without_a_readable_checkpoint_is_refused_in_one_line(tmp_path, dataset, encoder, capsys):
    run = tmp_path / "run"
    train(_cfg("train.max_steps=2", "train.ckpt_every=2"), run_dir=run, dataset=dataset, text_encoder=encoder,
          trainer_overrides=QUIET)
    for path in (run / "checkpoints").iterdir():
        _damage(path, "truncated")
    with pytest.raises(TrainingError, match=r"no readable checkpoint in .*checkpoints \(.*is not a loadable PyTorch "
                                            r"checkpoint.*; move the run folder aside"):
        train(_cfg("train.max_steps=4"), run_dir=run, dataset=dataset, text_encoder=encoder, trainer_overrides=QUIET)
    argv = ["train", "--config", "tiny", "--run-dir", str(run), "train.batch_size=4"]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("intermamba train: error: no readable checkpoint") and "\n" not in err


def test_damaged_normalizer_and_config_files_are_rebuilt_on_resume(tmp_path, dataset, encoder, caplog):
    run = tmp_path / "run"
    cfg = _cfg("train.max_steps=2", "train.ckpt_every=2")
    train(cfg, run_dir=run, dataset=dataset, text_encoder=encoder, trainer_overrides=QUIET)
    normalizer = (run / "normalizer.safetensors").read_bytes()
    _damage(run / "normalizer.safetensors", "truncated")
    (run / "config.json").write_text('{"model": {"latent_dim": ')
    with caplog.at_level(logging.INFO):
        train(_cfg("train.max_steps=4", "train.ckpt_every=2"), run_dir=run, dataset=dataset, text_encoder=encoder,
              trainer_overrides=QUIET)
    said = " | ".join(r.getMessage() for r in caplog.records)
    assert "normalizer.safetensors is unreadable" in said and "recomputing it" in said
    assert "config.json is unreadable" in said and "rewriting it from the checkpoint" in said
    assert (run / "normalizer.safetensors").read_bytes() == normalizer          # the same statistics again
    assert json.loads((run / "config.json").read_text())["model"] == json.loads(cfg.to_json())["model"]
    assert read_checkpoint(run / "checkpoints" / "last.ckpt")["global_step"] == 4


def test_cli_trains_the_tiny_config_on_the_procedural_world(tmp_path, capsys):
    run = tmp_path / "run"
    assert cli_main(["train", "--config", "tiny", "--run-dir", str(run), "train.max_steps=2",
                     "train.ckpt_every=2", "data.synthetic_items=8", "--fresh"]) == 0
    assert "inference export" in capsys.readouterr().out
    model, cfg, _ = load_pretrained(run / "export")
    assert cfg.train.max_steps == 2 and cfg.data.synthetic_items == 8
    assert cli_main(["train", "--config", "tiny", "--run-dir", str(run), "--fresh"]) == 2
    assert "already holds a run" in capsys.readouterr().err


def test_a_moved_run_folder_resumes_into_its_own_last_checkpoint(tmp_path):
    """A run folder copied or moved elsewhere resumes and keeps writing last.ckpt, not a versioned last-v1.ckpt
    beside a stale last.ckpt (Lightning's versioning, when the recorded folder differs)."""
    first, moved = tmp_path / "first", tmp_path / "elsewhere" / "run"
    assert cli_main(_cli_train(first, "train.max_steps=4", "--threads", "1")) == 0
    shutil.copytree(first, moved)
    shutil.rmtree(first)
    assert cli_main(_cli_train(moved, "--threads", "1")) == 0
    ckpts = moved / "checkpoints"
    assert sorted(p.name for p in ckpts.iterdir()) == ["last.ckpt", "step=0000008.ckpt"]
    assert read_checkpoint(ckpts / "last.ckpt")["global_step"] == 8


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert cli_main(["train", "--config", "tiny", "--run-dir", str(tmp_path / "none"), "--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("intermamba train: error:") and "no checkpoint" in err and "\n" not in err
    assert cli_main(["train", "--config", "tiny", "--run-dir", str(tmp_path / "ih"), "data.dataset=interhuman"]) == 2
    assert "data.root" in capsys.readouterr().err and not (tmp_path / "ih").exists()   # nothing written
    assert cli_main(["plot-fusion", str(tmp_path / "missing")]) == 2
    assert "not found" in capsys.readouterr().err


def test_step_loader_is_sharded_deterministic_and_resumable(dataset):
    full = StepLoader(dataset, batch_size=2, seed=5, rank=0, world_size=1)
    assert full.batches(0) == StepLoader(dataset, batch_size=2, seed=5, rank=0, world_size=1).batches(0)
    assert full.batches(0) != full.batches(1)
    ranks = [StepLoader(dataset, batch_size=2, seed=5, rank=r, world_size=2) for r in range(2)]
    seen = [i for r in ranks for batch in r.batches(0) for i, _ in batch]
    assert len(seen) == len(set(seen)) == 12 and len(ranks[0]) == 3
    names = lambda loader: [tuple(b["name"]) + tuple(b["text"]) for b in loader]
    whole = names(StepLoader(dataset, batch_size=4, seed=1, rank=0, world_size=1))
    later = names(StepLoader(dataset, batch_size=4, seed=1, rank=0, world_size=1, step_fn=lambda: 1))
    assert later == whole[1:]
    with pytest.raises(TrainingError, match="lower train.batch_size"):
        len(StepLoader(dataset, batch_size=64, seed=0, rank=0, world_size=1))


def test_length_buckets_batch_similar_lengths():
    from intermamba.data import MotionDataset
    from training_toys import toy_items

    mixed = MotionDataset(toy_items(8, frames=20) + toy_items(8, frames=40, seed=1), max_frames=64, min_frames=8)
    loader = StepLoader(mixed, batch_size=4, seed=3, rank=0, world_size=1, bucket_by_length=True)
    for epoch in range(3):
        batches = loader.batches(epoch)
        assert sorted(i for b in batches for i, _ in b) == list(range(16))
        for b in batches:
            assert len({loader.lengths[i] for i, _ in b}) == 1     # one length per batch: no padding
    assert loader.batches(0) != loader.batches(1) and sorted(set(loader.lengths)) == [19, 39]


def test_weight_decay_skips_ssm_parameters_norms_and_biases(dataset, encoder):
    from intermamba.data import compute_normalizer

    module = DiffusionModule(_cfg(), compute_normalizer(dataset), text_encoder=encoder)
    opt = module.configure_optimizers()["optimizer"]
    decayed = {id(p) for p in opt.param_groups[0]["params"]}
    assert opt.param_groups[0]["weight_decay"] == 2e-5 and opt.param_groups[1]["weight_decay"] == 0
    for name, p in module.model.named_parameters():
        if name.endswith(("A_log", ".D", "bias")) or p.ndim < 2:
            assert id(p) not in decayed, name
    assert decayed


def test_text_lr_gives_the_text_head_its_own_rate_and_keeps_the_groups_when_unset(dataset, encoder):
    """train.text_lr (ours): the text head's parameters, and only they, step at text_lr (with weight decay kept
    apart as before), and the LR schedule scales both rates. Unset, the optimiser's groups are exactly the two of
    a run saved before the option existed, so its checkpoints resume."""
    from intermamba.data import compute_normalizer

    normalizer = compute_normalizer(dataset)
    plain = DiffusionModule(_cfg(), normalizer, text_encoder=encoder).configure_optimizers()["optimizer"]
    assert [g["weight_decay"] for g in plain.param_groups] == [2e-5, 0]
    assert {g["lr"] for g in plain.param_groups} == {1e-4}
    module = DiffusionModule(_cfg("train.text_lr=2e-5", "train.warmup_steps=4", "train.max_steps=8"), normalizer,
                             text_encoder=encoder)
    setup = module.configure_optimizers()
    opt, scheduler = setup["optimizer"], setup["lr_scheduler"]["scheduler"]
    rate = {id(p): (g["lr"], g["weight_decay"]) for g in opt.param_groups for p in g["params"]}
    for name, p in module.model.named_parameters():
        lr, decay = rate[id(p)]
        assert lr == pytest.approx((2e-5 if name.startswith("text_head.") else 1e-4) / 4), name   # warm-up 1/4
        if p.ndim < 2:
            assert decay == 0, name
    assert {decay for _, decay in rate.values()} == {2e-5, 0}
    opt.step()
    scheduler.step()
    assert sorted({g["lr"] for g in opt.param_groups}) == pytest.approx([2e-5 / 2, 1e-4 / 2])
    with pytest.raises(ConfigError, match="text_lr"):
        _cfg("train.text_lr=0")


def _learn(tmp_path, dataset, encoder, steps):
    cfg = _cfg(f"train.max_steps={steps}", f"train.ckpt_every={steps}", "train.lr=3e-3", "train.batch_size=6")
    run = train(cfg, run_dir=tmp_path / "run", dataset=dataset, text_encoder=encoder, trainer_overrides=QUIET)
    rows = _rows(run)
    mean = lambda key, part: sum(float(r[key]) for r in part) / len(part)
    return {key: (mean(key, rows[:10]), mean(key, rows[-10:])) for key in ("train/loss", "train/simple")}


def test_learning_drives_the_loss_down(tmp_path, dataset, encoder):
    losses = _learn(tmp_path, dataset, encoder, 60)
    first, last = losses["train/loss"]
    assert last < 0.2 * first, losses
    first, last = losses["train/simple"]
    assert last < 0.85 * first, losses


@pytest.mark.slow
def test_longer_learning_fits_the_toy_clips(tmp_path, dataset, encoder):
    losses = _learn(tmp_path, dataset, encoder, 300)
    first, last = losses["train/simple"]
    assert last < 0.35 * first, losses


def test_validation_loss_is_logged(tmp_path, dataset, encoder):
    cfg = _cfg("train.max_steps=4", "train.ckpt_every=4", "train.val_every=2")
    run = train(cfg, run_dir=tmp_path / "run", dataset=dataset, val_dataset=toy_dataset(4, seed=1),
                text_encoder=encoder, trainer_overrides=QUIET)
    with open(run / "logs" / "version_0" / "metrics.csv") as f:
        val = [r for r in csv.DictReader(f) if r.get("val/total")]
    assert len(val) == 2 and all(float(r["val/total"]) > 0 for r in val)


def test_plot_fusion_redraws_figure_8(tmp_path, dataset, encoder):
    run = train(_cfg("train.max_steps=3", "train.ckpt_every=3"), run_dir=tmp_path / "run", dataset=dataset,
                text_encoder=encoder, trainer_overrides=QUIET)
    series = read_fusion_log(run)
    assert set(series) == {"layer0.w_alpha", "layer0.w_beta", "layer0.alpha_c", "layer0.beta_c"}
    assert series["layer0.w_alpha"][0] == [0, 1, 2]
    assert cli_main(["plot-fusion", str(run), "--out", str(tmp_path / "fig8.png")]) == 0
    assert (tmp_path / "fig8.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no fusion weights"):
        plot_fusion(tmp_path / "empty")


def test_tensorboard_logs_feed_plot_fusion(tmp_path, dataset, encoder):
    pytest.importorskip("tensorboard")
    run = train(_cfg("train.max_steps=3", "train.ckpt_every=3", "train.logger=tensorboard"), run_dir=tmp_path / "run",
                dataset=dataset, text_encoder=encoder, trainer_overrides=QUIET)
    assert list((run / "logs").rglob("events.out.tfevents.*"))
    series = read_fusion_log(run)
    assert series["layer0.beta_c"][0] == [0, 1, 2]
    assert plot_fusion(run).is_file()


def test_export_round_trip_fp16_and_foreign_folders(tmp_path, dataset):
    from intermamba.data import compute_normalizer
    from intermamba.model import build_model

    cfg = _cfg()
    model, normalizer = build_model(cfg), compute_normalizer(dataset)
    save_pretrained(tmp_path / "m", model, cfg, normalizer, fp16=True)
    loaded, cfg2, norm2 = load_pretrained(tmp_path / "m")
    assert cfg2 == cfg
    torch.testing.assert_close(norm2.mean, normalizer.mean)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v, rtol=1e-3, atol=1e-3)
    assert (tmp_path / "m" / "model.safetensors").stat().st_size < 3 * sum(v.numel() for v in model.state_dict().values())

    with pytest.raises(CheckpointError, match="not found"):
        load_pretrained(tmp_path / "nowhere")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_pretrained(tmp_path / "junk")
    (tmp_path / "junk" / "config.json").write_text('{"model": "something else"}')
    with pytest.raises(CheckpointError, match="not an intermamba model"):
        load_pretrained(tmp_path / "junk")
    (tmp_path / "m" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="safetensors"):
        load_pretrained(tmp_path / "m")
    other = _cfg("model.latent_dim=16")
    save_pretrained(tmp_path / "o", build_model(other), other, normalizer)
    meta = json.loads((tmp_path / "o" / "config.json").read_text())
    meta["config"]["model"]["latent_dim"] = 32
    (tmp_path / "o" / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="does not match its config"):
        load_pretrained(tmp_path / "o")


DDP_SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from training_toys import toy_dataset
    from intermamba.config import load_config
    from intermamba.training import train
    cfg = load_config("tiny", ["train.batch_size=2", "train.max_steps=3", "train.ckpt_every=3",
                               "train.accelerator=cpu", "train.devices=2", "train.strategy=ddp"])
    train(cfg, run_dir={run!r}, dataset=toy_dataset(12), trainer_overrides=dict(enable_progress_bar=False))
""")


def test_two_process_cpu_ddp(tmp_path):
    """Lightning's DDP on the CPU (gloo): two processes, each its own shard, 3 steps (30-55 s on 2 cores)."""
    script = tmp_path / "ddp_run.py"
    run = tmp_path / "run"
    script.write_text(DDP_SCRIPT.format(tests=str(Path(__file__).parent), run=str(run)))
    env = dict(os.environ, OMP_NUM_THREADS="1", PL_TORCH_DISTRIBUTED_BACKEND="gloo")
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 3
    assert (run / "export" / "model.safetensors").is_file()


def test_lr_schedule_in_epochs_follows_intergen(dataset, encoder):
    """paper.yaml's recipe: linear warm-up over 10 epochs, then cosine to 0 at max_epochs, stepped per epoch."""
    cfg = load_config("paper", ["train.max_epochs=100"])
    assert cfg.train.max_steps is None and cfg.train.warmup_epochs == 10 and cfg.train.lr_schedule == "cosine"
    unit = Normalizer(torch.zeros(262), torch.ones(262))
    module = DiffusionModule(_cfg("train.max_steps=null", "train.max_epochs=100", "train.warmup_epochs=10",
                                  "train.lr_schedule=cosine"), unit, model=torch.nn.Linear(1, 1), text_encoder=encoder)
    module.steps_per_epoch = 7
    factor = module._lr_factor
    assert factor(0) == factor(6) == pytest.approx(0.1)                     # constant within epoch 0
    assert factor(7 * 9) == pytest.approx(1.0)                              # the warm-up's last epoch
    assert factor(7 * 10) == pytest.approx(1.0)                             # cosine starts at the peak
    assert factor(7 * 55) == pytest.approx(0.5)                             # half way through the decay
    assert factor(7 * 100) == pytest.approx(0.0, abs=1e-12)                 # the end of the run
    # stated in steps, the schedule is per step as before
    steps = DiffusionModule(_cfg("train.max_steps=100", "train.warmup_steps=10", "train.lr_schedule=cosine"), unit,
                            model=torch.nn.Linear(1, 1), text_encoder=encoder)._lr_factor
    assert steps(4) == pytest.approx(0.5) and steps(55) == pytest.approx(0.5)


@pytest.mark.parametrize("overrides, message", [
    (["train.max_steps=null"], "never end"),
    (["train.warmup_steps=5", "train.warmup_epochs=2"], "not both"),
])
def test_a_run_must_have_an_end_and_one_warmup_unit(tmp_path, dataset, encoder, overrides, message):
    with pytest.raises(TrainingError, match=message):
        train(_cfg(*overrides), run_dir=tmp_path / "run", dataset=dataset, text_encoder=encoder,
              trainer_overrides=QUIET)
    assert not (tmp_path / "run").exists()


def test_a_run_stated_in_epochs_stops_after_them(tmp_path, dataset, encoder):
    cfg = _cfg("train.max_steps=null", "train.max_epochs=2", "train.warmup_epochs=1", "train.lr_schedule=cosine")
    run = train(cfg, run_dir=tmp_path / "run", dataset=dataset, text_encoder=encoder, trainer_overrides=QUIET)
    steps_per_epoch = len(dataset) // cfg.train.batch_size
    assert len(_rows(run)) == 2 * steps_per_epoch


def test_a_new_run_can_start_from_another_runs_weights(tmp_path, dataset, encoder):
    """train.init_from: a new run begins with the source run's weights (denoiser and EMA copy) and its own fresh
    optimiser and schedule; at a learning rate of 1e-12 it ends where the source ended. A missing source or another
    model is one clear error."""
    source = train(_cfg("train.max_steps=3", "train.ckpt_every=3", "train.ema_decay=0.9"), run_dir=tmp_path / "a",
                   dataset=dataset, text_encoder=encoder, trainer_overrides=QUIET)
    tuned = train(_cfg("train.max_steps=2", "train.ckpt_every=2", "train.lr=1e-12", "train.ema_decay=0.9",
                       f"train.init_from={source}"), run_dir=tmp_path / "b", dataset=dataset, text_encoder=encoder,
                  trainer_overrides=QUIET)
    before = read_checkpoint(source / "checkpoints" / "last.ckpt")
    after = read_checkpoint(tuned / "checkpoints" / "last.ckpt")
    assert after["global_step"] == 2
    assert before["state_dict"].keys() == after["state_dict"].keys()
    weights = before["state_dict"]
    for key, value in weights.items():
        if key.startswith("ema_model."):     # the source's EMA, two updates of decay 0.9 towards the weights
            expected = 0.81 * value + 0.19 * weights["model." + key[len("ema_model."):]]
            torch.testing.assert_close(after["state_dict"][key], expected, msg=key)
        else:
            torch.testing.assert_close(after["state_dict"][key], value, msg=key)
    with pytest.raises(TrainingError, match="does not exist"):
        train(_cfg(f"train.init_from={tmp_path / 'nowhere'}"), run_dir=tmp_path / "c", dataset=dataset,
              text_encoder=encoder)
    with pytest.raises(TrainingError, match="holds another model"):
        train(_cfg("model.latent_dim=16", f"train.init_from={source}"), run_dir=tmp_path / "d", dataset=dataset,
              text_encoder=encoder)
