"""InterGen's released files, used as they are: its denoiser checkpoint and its normalisation statistics.

    pipe = InterMambaPipeline.from_pretrained("/path/InterGen/checkpoints")    # a folder with intergen.ckpt
    pipe = InterMambaPipeline.from_intergen("intergen.ckpt", normalizer=("global_mean.npy", "global_std.npy"))
    model, cfg, normalizer, text_encoder = load_intergen("/path/InterGen/checkpoints/intergen.ckpt")

The files, in InterGen's layout (reference/intergen-facts.md, secs. 1.4 and 2):
- `intergen.ckpt`: a Lightning checkpoint {"state_dict": {"model.<InterGen key>": tensor, ...}, ...}, read with
  torch.load(weights_only=True) only. Its denoiser and trainable text head map strictly onto our InterGen
  (model/intergen.py, with `intergen_exact`). The frozen CLIP ViT-L/14@336px text tower stored beside them
  becomes the text encoder: these are the exact weights InterGen was trained with (the 336px model's text tower
  is not the 224px one's), so no other CLIP weights are needed, only CLIP's tokenizer (the `clip` extra).
- `global_mean.npy`, `global_std.npy`: looked for beside the checkpoint, then in `../data/` (an InterGen clone
  keeps checkpoints/intergen.ckpt and data/global_*.npy), unless given.
Sizes (width, layers, feed-forward, text width) come from the tensors; what the file does not hold (the head
counts, 8 and 8, and the sampler: DDIM 50 steps, guidance 3.5) from the `intergen` config.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

import torch

from .checkpoint import CONFIG_FILE, CheckpointError, load_state_strict
from .config import Config, load_config
from .skeleton import FEATURE_DIM

PathLike = Union[str, os.PathLike]
INTERGEN_CHECKPOINT = "intergen.ckpt"          # the name InterGen's configs and download script use
LIGHTNING_PREFIX = "model."                    # InterGen's LightningModule holds the InterGen module as .model
DENOISER_KEY = "decoder.net.motion_embed.weight"   # present in every InterGen checkpoint


def find_intergen_checkpoint(path: PathLike) -> Optional[Path]:
    """The InterGen checkpoint `path` names (a .ckpt file, or a folder holding intergen.ckpt and no config.json
    of ours), or None when `path` is something else (e.g. one of our export folders)."""
    path = Path(path)
    if path.is_file() and path.suffix == ".ckpt":
        return path
    if path.is_dir() and (path / INTERGEN_CHECKPOINT).is_file() and not (path / CONFIG_FILE).is_file():
        return path / INTERGEN_CHECKPOINT
    return None


def read_intergen_state(path: PathLike) -> dict[str, torch.Tensor]:
    """The InterGen module's state_dict from a Lightning checkpoint, "model." prefix removed. weights_only: a
    file that needs more than tensors and plain containers is refused with one line, never unpickled."""
    path = Path(path)
    try:
        ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure to read is one line for the user
        first = (str(err).strip().splitlines() or [""])[0]
        raise CheckpointError(f"{path} cannot be read as a weights-only PyTorch checkpoint "
                              f"({type(err).__name__}: {first[:200]})") from None
    state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise CheckpointError(f"{path} holds no state_dict of tensors; is it InterGen's {INTERGEN_CHECKPOINT}?")
    # InterGen's own loader replaces "model." anywhere in a key; only the Lightning prefix is meant.
    state = {k[len(LIGHTNING_PREFIX):] if k.startswith(LIGHTNING_PREFIX) else k: v for k, v in state.items()}
    if DENOISER_KEY not in state:
        raise CheckpointError(f"{path} is not InterGen's checkpoint (no {DENOISER_KEY}); intermamba models load "
                              f"from an export folder ({CONFIG_FILE} + model.safetensors)")
    return state


def intergen_config(state: dict[str, torch.Tensor]) -> Config:
    """The `intergen` config with the sizes the tensors show, and intergen_exact."""
    def count(prefix: str) -> int:
        return len({k[len(prefix):].split(".")[0] for k in state if k.startswith(prefix)})

    try:
        latent_dim, input_dim = state[DENOISER_KEY].shape
        text_dim = state["decoder.net.text_embed.weight"].shape[1]
        ff_size = state["decoder.net.blocks.0.ffn.linear1.weight"].shape[0]
        text_ff = state["clipTransEncoder.layers.0.linear1.weight"].shape[0]
    except KeyError as err:
        raise CheckpointError(f"InterGen checkpoint lacks {err.args[0]}; the file is incomplete") from None
    if input_dim != FEATURE_DIM:
        raise CheckpointError(f"InterGen checkpoint has per-person features of {input_dim} dims, expected "
                              f"{FEATURE_DIM} (InterHuman's representation)")
    return load_config("intergen", [
        f"model.latent_dim={latent_dim}", f"model.num_layers={count('decoder.net.blocks.')}",
        f"model.ff_size={ff_size}", f"model.text_dim={text_dim}", f"model.text_ff={text_ff}",
        f"model.text_layers={count('clipTransEncoder.layers.')}", "model.intergen_exact=true"])


def find_intergen_stats(checkpoint: PathLike) -> tuple[Path, Path]:
    """global_mean.npy / global_std.npy beside the checkpoint, else in ../data (an InterGen clone)."""
    from .motion import INTERGEN_MEAN_FILE, INTERGEN_STD_FILE

    folder = Path(checkpoint).parent
    for candidate in (folder, folder.parent / "data"):
        mean, std = candidate / INTERGEN_MEAN_FILE, candidate / INTERGEN_STD_FILE
        if mean.is_file() and std.is_file():
            return mean, std
    raise FileNotFoundError(f"InterGen's normalisation statistics {INTERGEN_MEAN_FILE} and {INTERGEN_STD_FILE} "
                            f"were found neither in {folder} nor in {folder.parent / 'data'}; copy them (InterGen's "
                            f"data/ folder) beside {Path(checkpoint).name}")


def _normalizer(checkpoint: Path, normalizer):
    from .motion import Normalizer, load_normalizer

    if isinstance(normalizer, Normalizer):
        return normalizer
    if normalizer is None:
        return Normalizer.from_intergen_files(*find_intergen_stats(checkpoint))
    if isinstance(normalizer, (tuple, list)) and len(normalizer) == 2:
        return Normalizer.from_intergen_files(*normalizer)
    return load_normalizer(normalizer)


def load_intergen(path: PathLike, *, normalizer=None, tokenizer: Optional[Callable[[Sequence[str]], torch.Tensor]]
                  = None, text_encoder=None):
    """(InterGen model in eval mode, Config, Normalizer, text encoder) from InterGen's released checkpoint.

    path: intergen.ckpt or a folder holding it. normalizer: None (find global_mean/std.npy, see the module
    docstring), (mean.npy, std.npy), a folder or .safetensors file, or a Normalizer. tokenizer: CLIP's tokenizer
    (default: text.clip_tokenizer()); text_encoder: use this one instead of the checkpoint's CLIP tower.
    """
    from .model import build_model
    from .text import CLIPTextTower, CLIPTowerEncoder, clip_tokenizer
    from .model.intergen import map_intergen_state_dict

    checkpoint = find_intergen_checkpoint(path)
    if checkpoint is None:
        raise CheckpointError(f"{path}: no InterGen checkpoint (a .ckpt file, or a folder with {INTERGEN_CHECKPOINT})")
    state = read_intergen_state(checkpoint)     # first: a .ckpt that is not InterGen's says so, not "no stats"
    stats = _normalizer(checkpoint, normalizer)
    if text_encoder is None and tokenizer is None:
        tokenizer = clip_tokenizer()
    cfg = intergen_config(state)
    try:
        denoiser, clip = map_intergen_state_dict(state)
    except ValueError as err:
        raise CheckpointError(f"{checkpoint}: {err}") from None
    model = build_model(cfg)
    load_state_strict(model, denoiser, f"{checkpoint} does not match InterGen's model")
    if text_encoder is None:
        if not clip:
            raise CheckpointError(f"{checkpoint} holds no CLIP text tower (token_embedding, clip_transformer, ...); "
                                  "pass a text encoder")
        tower = CLIPTextTower.sized_like(clip)
        load_state_strict(tower, clip, f"{checkpoint}: CLIP text tower")
        if tower.width != cfg.model.text_dim:
            raise CheckpointError(f"{checkpoint}: CLIP width {tower.width} differs from the text head's "
                                  f"{cfg.model.text_dim}")
        text_encoder = CLIPTowerEncoder(tower, tokenizer=tokenizer, cache=cfg.text.cache)
    return model.eval(), cfg, stats, text_encoder
