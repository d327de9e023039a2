"""The config layer: every numeric field is range-checked, with one line naming the key and the range."""

import dataclasses
import json

import pytest
import torch

from intermamba.checkpoint import CheckpointError, load_pretrained, save_pretrained
from intermamba.cli import main as cli_main
from intermamba.config import (RANGES, Config, ConfigError, OneOf, Range, available_configs, check_ranges_table,
                               load_config)


@pytest.mark.parametrize("override, message", [
    ("model.dropout=1.5", "model.dropout must be in [0, 1), got 1.5"),
    ("model.max_frames=0", "model.max_frames must be in [1, 10000], got 0"),
    ("train.batch_size=0", "train.batch_size must be in [1, 65536], got 0"),
    ("train.batch_size=-4", "train.batch_size must be in [1, 65536], got -4"),
    ("train.lr=-1", "train.lr must be in (0, 10], got -1.0"),
    ("diffusion.num_timesteps=0", "diffusion.num_timesteps must be in [1, 100000], got 0"),
    ("data.num_workers=-1", "data.num_workers must be in [0, 256], got -1"),
    ("train.precision=fp64", "train.precision must be one of 32-true, "),
    ("train.devices=0", "train.devices must be in [1, 4096], got 0"),
    ("train.ckpt_every=0", "train.ckpt_every must be in [1, 1000000000], got 0"),
    ("train.max_steps=-1", "train.max_steps must be in [1, 1000000000], got -1"),
    ("train.warmup_steps=-5", "train.warmup_steps must be in [0, 1000000000], got -5"),
    ("train.log_every=0", "train.log_every must be in [1, 1000000000], got 0"),
    ("model.latent_dim=200000", "model.latent_dim must be in [1, 8192], got 200000"),
    ("train.lr=.nan", "train.lr must be in (0, 10], got nan"),
    ("diffusion.guidance=.inf", "diffusion.guidance must be >= 0, got inf"),
    ("train.ema_decay=1.0", "train.ema_decay must be in [0, 1), got 1.0"),
    ("eval.emb_scale=0", "eval.emb_scale must be > 0, got 0.0"),
])
def test_out_of_range_values_are_one_line_errors(override, message):
    with pytest.raises(ConfigError) as err:
        load_config("tiny", [override])
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


@pytest.mark.parametrize("override", ["train.devices=auto", "train.devices=2", "train.ema_decay=null",
                                      "train.precision=bf16-mixed", "model.dt_rank=auto", "model.dropout=0"])
def test_in_range_and_non_numeric_members_pass(override):
    load_config("tiny", [override])


def test_cli_reports_a_bad_value_in_one_line(tmp_path, capsys):
    assert cli_main(["train", "--config", "tiny", "--run-dir", str(tmp_path / "r"), "train.batch_size=0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "intermamba train: error: train.batch_size must be in [1, 65536], got 0"
    assert not (tmp_path / "r").exists()


def test_every_numeric_field_has_a_range_and_every_range_a_field():
    sections = {type(v) for v in vars(Config()).values() if dataclasses.is_dataclass(v)}
    assert set(RANGES) == sections
    for cls in sections:
        check_ranges_table(cls, RANGES[cls])
    model = type(Config().model)
    with pytest.raises(TypeError, match=r"unknown fields \['no_such_field'\]"):
        check_ranges_table(model, {**RANGES[model], "no_such_field": Range(0, 1)})
    with pytest.raises(TypeError, match=r"no range for \['latent_dim'\]"):
        check_ranges_table(model, {k: v for k, v in RANGES[model].items() if k != "latent_dim"})


@pytest.mark.parametrize("name", available_configs())
def test_shipped_configs_and_defaults_are_in_range(name):
    load_config(name)
    for cls, ranges in RANGES.items():
        default = cls()
        for key, allowed in ranges.items():
            value = getattr(default, key)
            if value is None or (isinstance(value, str) and not isinstance(allowed, OneOf)):
                continue                      # null, or the string member of a union (devices: "auto")
            assert value in allowed, (cls.__name__, key)


def _folder(tmp_path):
    from intermamba.model import build_model
    from intermamba.motion import Normalizer
    from intermamba.skeleton import FEATURE_DIM

    cfg = load_config("tiny")
    folder = save_pretrained(tmp_path / "m", build_model(cfg), cfg, Normalizer(torch.zeros(FEATURE_DIM),
                                                                                torch.ones(FEATURE_DIM)))
    return folder, cfg


def test_a_model_folder_with_a_huge_width_is_refused_before_allocating(tmp_path):
    folder, _ = _folder(tmp_path)
    meta = json.loads((folder / "config.json").read_text())
    meta["config"]["model"]["latent_dim"] = 200000
    (folder / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"latent_dim must be in \[1, 8192\], got 200000"):
        load_pretrained(folder)


def test_a_tensor_of_the_wrong_dtype_is_not_cast(tmp_path):
    from safetensors.torch import load_file, save_file

    folder, _ = _folder(tmp_path)
    state = load_file(folder / "model.safetensors")
    key = next(k for k, v in state.items() if v.is_floating_point())
    state[key] = state[key].to(torch.int32)
    save_file(state, folder / "model.safetensors")
    with pytest.raises(CheckpointError, match=f"{key} is int32, expected float32"):
        load_pretrained(folder)
    state[key] = state[key].half()                      # an fp16 export is cast back, as before
    save_file(state, folder / "model.safetensors")
    load_pretrained(folder)
