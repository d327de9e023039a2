"""Inference weights on disk: one folder with `model.safetensors` and `config.json`.

    save_pretrained("out/demo", model, cfg, normalizer, fp16=True)
    model, cfg, normalizer = load_pretrained("out/demo")

config.json holds everything needed to rebuild the model without the training run: the full Config, the
normaliser's mean/std, the text encoder's name and token width, and free-form training facts (steps, time).
The weights are safetensors (never pickle); fp16 halves the file and is cast back to float32 on load.
A folder that is not ours fails with one line that says what is wrong.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Optional, Union

import torch

from .config import Config, ConfigError, config_from_dict
from .fileio import atomic_path, atomic_write_text

FORMAT = "intermamba"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


class CheckpointError(ValueError):
    """A model folder that cannot be loaded (missing, foreign or corrupt files)."""


def save_pretrained(folder: Union[str, Path], model: torch.nn.Module, cfg: Config, normalizer, *,
                    fp16: bool = False, extra: Optional[dict] = None) -> Path:
    """Write model.safetensors + config.json into `folder` (each file atomically); returns the folder."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dtype = torch.float16 if fp16 else torch.float32
    state = {k: (v.detach().to("cpu", dtype) if v.is_floating_point() else v.detach().cpu()).contiguous().clone()
             for k, v in model.state_dict().items()}
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "dtype": str(dtype).replace("torch.", ""),
        "text_encoder": cfg.text.encoder,
        "text_dim": cfg.model.text_dim,
        "normalizer": {k: v.tolist() for k, v in normalizer.state_dict().items()},
        "config": cfg.to_dict(),
        "training": extra or {},
    }
    with atomic_path(folder / WEIGHTS_FILE) as tmp:
        save_file(state, str(tmp), metadata={"format": FORMAT, "format_version": str(FORMAT_VERSION)})
    atomic_write_text(folder / CONFIG_FILE, json.dumps(meta, indent=1))
    return folder


def read_meta(folder: Union[str, Path]) -> dict:
    """config.json of a model folder, validated as ours."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise CheckpointError(f"{str(folder)!r} is a file, not a model folder (expected a folder with "
                              f"{WEIGHTS_FILE} and {CONFIG_FILE}, e.g. runs/demo/export)")
    if not folder.is_dir():
        raise CheckpointError(f"model folder {str(folder)!r} not found (expected a folder with {WEIGHTS_FILE} "
                              f"and {CONFIG_FILE})")
    path = folder / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"{folder} has no {CONFIG_FILE}; is it an intermamba model folder?")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path} is not valid JSON ({err.__class__.__name__}); the file is corrupt") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an intermamba model config (no \"format\": \"{FORMAT}\")")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{path} has format version {meta['format_version']}; this intermamba reads up to "
                              f"{FORMAT_VERSION}: upgrade intermamba")
    for key in ("config", "normalizer"):
        if key not in meta:
            raise CheckpointError(f"{path} lacks the {key!r} entry; the file is incomplete")
    return meta


def _check_finite(path: Path, state: dict) -> None:
    """NaN or inf weights (a diverged run, a corrupt file) would turn every sample into NaN: refuse them."""
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise CheckpointError(f"{path} holds NaN or infinite values in {len(bad)} tensor(s) ({bad[0]}, ...); the "
                              "model diverged or the file is corrupt: export it again from a good checkpoint")


def load_pretrained(folder: Union[str, Path], *, device: Union[str, torch.device] = "cpu"):
    """(model in eval mode, Config, Normalizer) from a folder written by save_pretrained."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .model import build_model
    from .motion import Normalizer

    folder = Path(folder)
    meta = read_meta(folder)
    try:
        cfg = config_from_dict(meta["config"])
    except ConfigError as err:
        raise CheckpointError(f"{folder / CONFIG_FILE}: its config does not validate ({err})") from err
    try:
        normalizer = Normalizer.from_state_dict({k: torch.tensor(v) for k, v in meta["normalizer"].items()})
    except (ValueError, TypeError) as err:
        raise CheckpointError(f"{folder / CONFIG_FILE}: bad normaliser statistics ({err})") from err
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        raise CheckpointError(f"{folder} has no {WEIGHTS_FILE}")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"{weights} is not a readable safetensors file ({str(err).splitlines()[0]})") from err
    model = build_model(cfg)
    state = match_state_dict(model, state, f"{weights} does not match its config")
    _check_finite(weights, state)
    model.load_state_dict(state)
    return model.to(device).eval(), cfg, normalizer


def match_state_dict(module: torch.nn.Module, state: dict, source: str) -> dict:
    """`state` checked against `module`'s own: the same names and shapes, floating tensors for floating ones (cast
    to the module's dtype, so fp16 files load as float32) and the same dtype otherwise (an int32 tensor where a
    float32 weight belongs is a foreign file, not something to cast). Any mismatch is one CheckpointError naming
    `source` ("FILE does not match ...")."""
    reference = module.state_dict()
    missing = sorted(set(reference) - set(state))
    unexpected = sorted(set(state) - set(reference))
    if missing or unexpected:
        raise CheckpointError(f"{source}: {len(missing)} missing tensors {missing[:3]}, {len(unexpected)} "
                              f"unexpected {unexpected[:3]}")
    for key, want in reference.items():
        got = state[key]
        if not isinstance(got, torch.Tensor):
            raise CheckpointError(f"{source}: {key} is a {type(got).__name__}, not a tensor")
        if got.shape != want.shape:
            raise CheckpointError(f"{source}: shape of {key} is {tuple(got.shape)}, expected {tuple(want.shape)}")
        if got.dtype != want.dtype and not (got.is_floating_point() and want.is_floating_point()):
            raise CheckpointError(f"{source}: {key} is {str(got.dtype).replace('torch.', '')}, expected "
                                  f"{str(want.dtype).replace('torch.', '')}")
    return {k: v.to(reference[k].dtype) for k, v in state.items()}


def load_state_strict(module: torch.nn.Module, state: dict, problem: str) -> None:
    """module.load_state_dict(state) after `match_state_dict`: one CheckpointError line "problem: ..." naming the
    first missing / unexpected tensors, wrong shape or foreign dtype."""
    module.load_state_dict(match_state_dict(module, state, problem))


def load_torch_file(path: Union[str, Path]):
    """A torch.save file read with `torch.load(weights_only=True)` and nothing else (tensors, containers, numbers),
    so no code from the file ever runs. A legacy (non-zip) file, a plain pickle, or one that pickles other Python
    objects (a run's config classes, say) is refused with one line that says how to convert it; a damaged file
    is one line too. Raises CheckpointError."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as err:
        raise CheckpointError(f"cannot read {path}: {err.strerror or err}") from err
    if head[:1] == b"\x80":     # a pickle stream: the legacy torch.save format, or a plain pickle
        raise CheckpointError(f"{path} is in PyTorch's legacy (pre-1.6, non-zip) format or is a plain pickle, which "
                              f"is never read since reading one runs code from it; convert it where you trust it: "
                              f"{_RESAVE_HINT}")
    if head != b"PK\x03\x04":
        raise CheckpointError(f"{path} is not a PyTorch checkpoint (torch.save writes a zip file)")
    scan = getattr(torch.serialization, "get_unsafe_globals_in_checkpoint", None)   # torch >= 2.5; without it,
    try:                                                                           # weights_only refuses alone
        foreign = sorted(scan(str(path))) if scan is not None else []
    except Exception as err:  # noqa: BLE001 - a damaged zip, whatever the reader raises: one line
        raise CheckpointError(f"{path} is not a loadable PyTorch checkpoint ({first_line(err)})") from err
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise CheckpointError(f"{path} pickles Python objects besides tensors ({shown}), which are never unpickled "
                              f"here; keep only its weights where you trust the file: {_RESAVE_HINT}")
    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:    # what the static scan cannot see; torch's own advice would unpickle
        raise CheckpointError(f"{path} pickles objects that a weights-only load refuses, which are never unpickled "
                              f"here; keep only its weights where you trust the file: {_RESAVE_HINT}") from err
    except Exception as err:  # noqa: BLE001 - truncated or damaged: one line
        raise CheckpointError(f"{path} is not a loadable PyTorch checkpoint ({first_line(err)})") from err


# How to turn a file we refuse into one we read (run it only on a file you trust: it unpickles).
_RESAVE_HINT = ("python -c \"import torch; c = torch.load('IN.ckpt', weights_only=False); "
                "torch.save({'state_dict': c.get('state_dict', c)}, 'OUT.ckpt')\"")


def first_line(err: BaseException, limit: int = 160) -> str:
    """'ErrorType: first line of the message' (cut at `limit` characters), for one-line reports of a library's
    long errors."""
    lines = str(err).strip().splitlines()
    text = f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."
