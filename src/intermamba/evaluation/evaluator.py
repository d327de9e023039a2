"""The evaluator: InterGen's InterCLIP, a contrastive text-motion embedding used by every metric.

Architecture (reference/intergen-facts.md sec. 4):

    motion (B, T, 2, 262) unnormalised -> drop contacts -> (B, T, 516) -> Linear -> [query token | frames]
        -> + sinusoidal PE -> TransformerEncoder (key padding mask) -> LayerNorm -> query token -> Linear -> 512
    text tokens (B, L, d) -> + positional embedding -> TransformerEncoder -> LayerNorm -> EOT token -> Linear -> 512

Both embeddings are L2-normalised and multiplied by a learned scalar `latent_scale`; training uses the
symmetric InfoNCE loss with logit scale latent_scale^2 (see `contrastive.py`).

Two text front ends feed the text transformer:
- "clip": InterCLIP's own, CLIP BPE ids -> CLIP's frozen token embedding (no CLIP transformer), 77 tokens,
  no padding mask, pooled at the EOT token. Used when loading InterGen's released `interclip.ckpt`
  (needs the CLIP tokenizer from `open-clip-torch`, optional).
- "features" (the default for evaluators trained here): the frozen token features of the project's text
  encoder (`intermamba.text`, MiniLM by default) take the place of CLIP's token embeddings, with a padding
  mask (so a caption's embedding does not depend on the batch it is in) and pooled at the last valid token
  (MiniLM's [SEP], the analogue of CLIP's EOT).

Sizes come in presets: "interclip" (InterGen's full sizes, needed to load its checkpoint), "small" (the
procedural world: a few minutes of CPU training) and "tiny" (tests).
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Optional, Sequence, Union

import numpy as np
import torch
from torch import nn

from ..checkpoint import first_line, load_torch_file, match_state_dict
from ..fileio import atomic_path
from ..skeleton import CONTACT, FEATURE_DIM

MOTION_DIM = CONTACT.start          # 258: per-person features without the 4 foot contacts
EVALUATOR_FORMAT = "intermamba-evaluator"
# Where a shipped evaluator for the procedural world lives (`intermamba eval` uses it when none is given).
DEFAULT_EVALUATOR = Path(__file__).resolve().parent.parent / "assets" / "evaluator" / "evaluator.safetensors"
CLIP_VOCAB = 49408                  # CLIP's BPE vocabulary (token embedding rows)
CLIP_TOKENS = 77                    # CLIP's context length


@dataclass(frozen=True)
class EvaluatorConfig:
    motion_latent: int = 1024       # width of the motion transformer
    motion_layers: int = 8
    motion_heads: int = 8
    motion_ff: int = 2048
    max_frames: int = 2000          # sinusoidal PE table length in tokens (InterGen: 2000)
    frame_stride: int = 1           # consecutive frames per motion token (InterGen: 1; >1 is our CPU economy)
    text_tokens: Literal["features", "clip"] = "features"   # see the module docstring
    text_in_dim: int = 768          # width of the token features fed in (CLIP: 768; MiniLM: 384)
    text_latent: int = 768          # width of the text transformer (an input Linear maps text_in_dim to it)
    text_layers: int = 8
    text_heads: int = 8
    text_ff: int = 2048
    max_tokens: int = CLIP_TOKENS   # positional embedding rows
    embed_dim: int = 512            # co-embedding width
    dropout: float = 0.1
    latent_scale_init: float = 1.0  # InterGen initialises latent_scale to 1

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "EvaluatorConfig":
        """Parsed and checked like a config section (known keys, types, EVALUATOR_RANGES); raises ValueError."""
        from ..config import _build, check_ranges

        try:
            raw = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"evaluator_config is not valid JSON ({err})") from err
        if not isinstance(raw, dict):
            raise ValueError(f"evaluator_config must be a JSON object, got {type(raw).__name__}")
        cfg = _build(cls, raw, "evaluator_config")
        check_ranges(cfg, EVALUATOR_RANGES, "evaluator_config")
        return cfg


def _evaluator_ranges() -> dict:
    from ..config import LAYERS, POSITIVE, SIZE, SIZE_CAP, Range, check_ranges_table

    ranges = {
        "motion_latent": SIZE, "motion_layers": LAYERS, "motion_heads": LAYERS, "motion_ff": Range(1, 8 * SIZE_CAP),
        "max_frames": Range(2, 100_000), "frame_stride": Range(1, 64), "text_in_dim": SIZE, "text_latent": SIZE,
        "text_layers": LAYERS, "text_heads": LAYERS, "text_ff": Range(1, 8 * SIZE_CAP), "max_tokens": Range(1, 512),
        "embed_dim": SIZE, "dropout": Range(0, 1, open_high=True), "latent_scale_init": POSITIVE,
    }
    check_ranges_table(EvaluatorConfig, ranges)
    return ranges


# The sizes a saved evaluator may declare (config.py's mechanism): a damaged or hostile file cannot ask for
# gigabytes, and a zero or negative size is one line instead of a traceback from deep inside torch.
EVALUATOR_RANGES = _evaluator_ranges()


# The learned scale starts at CLIP's temperature (logit scale 1/0.07) for the evaluators trained here: from
# InterGen's 1 the softmax is nearly flat and the contrastive loss needs many steps just to sharpen it.
_CLIP_INIT_SCALE = math.sqrt(1 / 0.07)

EVALUATOR_PRESETS: dict[str, EvaluatorConfig] = {
    # InterGen's configs/eval_model.yaml + datasets/evaluator_models.py (about 68.3M + 44.5M parameters).
    "interclip": EvaluatorConfig(text_tokens="clip"),
    # The procedural world: small enough to train on 2 CPU cores in minutes. The 64-d co-embedding keeps
    # FID's covariance well conditioned with a test split of a few hundred items (InterGen: 512-d, ~1000 items).
    # Tokens of 4 frames (133 ms) cut the attention cost 16x and no dropout (slow on CPU; the crops, swaps and
    # mirrors of the data already regularise), which makes CPU training a matter of minutes.
    "small": EvaluatorConfig(motion_latent=128, motion_layers=3, motion_heads=4, motion_ff=256, max_frames=512,
                             frame_stride=4, text_latent=128, text_layers=2, text_heads=4, text_ff=256,
                             embed_dim=64, dropout=0.0, latent_scale_init=_CLIP_INIT_SCALE),
    "tiny": EvaluatorConfig(motion_latent=32, motion_layers=1, motion_heads=2, motion_ff=64, max_frames=512,
                            text_latent=32, text_layers=1, text_heads=2, text_ff=64, embed_dim=16, dropout=0.0,
                            latent_scale_init=_CLIP_INIT_SCALE),
}


def sinusoidal_table(length: int, dim: int) -> torch.Tensor:
    """(length, dim) table with sin on even and cos on odd channels (InterGen's PositionalEncoding layout)."""
    position = torch.arange(length, dtype=torch.float32)[:, None]                           # (L, 1)
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))  # (dim/2,)
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq)
    return table


def _transformer(width: int, heads: int, ff: int, layers: int, dropout: float) -> nn.TransformerEncoder:
    # Post-norm GELU layers, batch first: InterGen's nn.TransformerEncoder settings (and its state_dict names).
    layer = nn.TransformerEncoderLayer(width, heads, dim_feedforward=ff, dropout=dropout, activation="gelu",
                                       batch_first=True)
    return nn.TransformerEncoder(layer, num_layers=layers, enable_nested_tensor=False)


class MotionEncoder(nn.Module):
    """Two persons' unnormalised features (B, T, 2, 262) + lengths (B,) -> (B, embed_dim), unnormalised."""

    def __init__(self, cfg: EvaluatorConfig):
        super().__init__()
        self.stride = cfg.frame_stride
        self.query_token = nn.Parameter(torch.randn(1, cfg.motion_latent))
        self.embed = nn.Linear(self.stride * 2 * MOTION_DIM, cfg.motion_latent)
        self.register_buffer("pe", sinusoidal_table(cfg.max_frames, cfg.motion_latent), persistent=False)
        self.dropout = nn.Dropout(cfg.dropout)
        self.transformer = _transformer(cfg.motion_latent, cfg.motion_heads, cfg.motion_ff, cfg.motion_layers,
                                        cfg.dropout)
        self.ln = nn.LayerNorm(cfg.motion_latent)
        self.proj = nn.Linear(cfg.motion_latent, cfg.embed_dim)

    def forward(self, motion: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        B, T = motion.shape[:2]
        S = -(-T // self.stride)                                                    # tokens: ceil(T / stride)
        if S + 1 > len(self.pe):
            raise ValueError(f"evaluator sees at most {(len(self.pe) - 1) * self.stride} frames, got {T}")
        frames = torch.arange(S * self.stride, device=motion.device)[None] < lengths[:, None]   # (B, S*stride)
        x = motion[..., :MOTION_DIM].reshape(B, T, 2 * MOTION_DIM)                 # (B, T, 516)
        x = nn.functional.pad(x, (0, 0, 0, S * self.stride - T)) * frames[..., None]  # zero beyond each length
        x = x.reshape(B, S, self.stride * 2 * MOTION_DIM)                          # (B, S, stride*516)
        h = torch.cat([self.query_token.expand(B, 1, -1), self.embed(x)], dim=1)    # (B, 1+S, D)
        h = self.dropout(h + self.pe[: S + 1])
        tokens = frames[:, ::self.stride]                                          # (B, S): a token's first frame
        valid = torch.cat([tokens.new_ones(B, 1), tokens], dim=1)                  # (B, 1+S); query always valid
        h = self.transformer(h, src_key_padding_mask=~valid)
        return self.proj(self.ln(h[:, 0]))                                          # (B, E)


class TextEncoder(nn.Module):
    """Token ids (B, L) ("clip") or token features (B, L, text_in_dim) ("features") -> (B, embed_dim)."""

    def __init__(self, cfg: EvaluatorConfig):
        super().__init__()
        self.mode = cfg.text_tokens
        if self.mode == "clip":
            # CLIP's token embedding and positional embedding, frozen as in InterCLIP.
            self.token_embedding = nn.Embedding(CLIP_VOCAB, cfg.text_in_dim).requires_grad_(False)
            self.positional_embedding = nn.Parameter(torch.zeros(cfg.max_tokens, cfg.text_latent), requires_grad=False)
        else:
            self.positional_embedding = nn.Parameter(torch.randn(cfg.max_tokens, cfg.text_latent) * 0.01)
        self.in_proj = nn.Identity() if cfg.text_in_dim == cfg.text_latent else nn.Linear(cfg.text_in_dim, cfg.text_latent)
        self.transformer = _transformer(cfg.text_latent, cfg.text_heads, cfg.text_ff, cfg.text_layers, cfg.dropout)
        self.ln = nn.LayerNorm(cfg.text_latent)
        self.proj = nn.Linear(cfg.text_latent, cfg.embed_dim)

    def forward(self, tokens: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.mode == "clip":
            # InterCLIP: no padding mask (all 77 tokens attend), pooled at the EOT id, the largest in CLIP's vocab.
            pool = tokens.argmax(dim=-1)                                           # (B,)
            x, padding = self.token_embedding(tokens), None                        # (B, L, 768)
        else:
            if mask is None:
                mask = torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device)
            pool = mask.sum(dim=1) - 1                                             # last valid token ([SEP])
            x, padding = tokens, ~mask
        L = x.shape[1]
        if L > len(self.positional_embedding):
            raise ValueError(f"evaluator text sees at most {len(self.positional_embedding)} tokens, got {L}")
        h = self.in_proj(x) + self.positional_embedding[:L]                         # (B, L, D)
        h = self.ln(self.transformer(h, src_key_padding_mask=padding))
        return self.proj(h[torch.arange(len(h), device=h.device), pool])           # (B, E)


class InterCLIP(nn.Module):
    """The evaluator network: `encode_motion` and `encode_text` return L2-normalised embeddings x latent_scale."""

    def __init__(self, cfg: EvaluatorConfig):
        super().__init__()
        self.config = cfg
        self.motion = MotionEncoder(cfg)
        self.text = TextEncoder(cfg)
        self.latent_scale = nn.Parameter(torch.tensor([cfg.latent_scale_init]))

    def _scaled(self, emb: torch.Tensor) -> torch.Tensor:
        return emb / emb.norm(dim=-1, keepdim=True) * self.latent_scale

    def encode_motion(self, motion: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """motion (B, T, 2, 262) unnormalised features, lengths (B,) -> (B, E)."""
        if motion.ndim != 4 or motion.shape[2:] != (2, FEATURE_DIM):
            raise ValueError(f"evaluator expects motion of shape (B, T, 2, {FEATURE_DIM}), got {tuple(motion.shape)}")
        T = int(lengths.max())            # crop to the longest item: padding beyond it is masked anyway
        return self._scaled(self.motion(motion[:, :T], lengths))

    def encode_text(self, tokens: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self._scaled(self.text(tokens, mask))

    def contrastive_loss(self, text_emb: torch.Tensor, motion_emb: torch.Tensor,
                         same_text: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Symmetric InfoNCE with logit scale latent_scale^2 (InterGen) on the scaled embeddings.

        `same_text` (B, B) bool marks pairs whose captions are identical: they are positives too (the target
        spreads over them), since punishing a motion for matching its twin's identical caption only adds
        noise. Without duplicates this is exactly InterGen's loss.
        """
        # cos similarity x latent_scale^2 == dot product of the two scaled embeddings
        logits = motion_emb @ text_emb.T                                            # (B, B) motion x text
        positive = torch.eye(len(logits), device=logits.device) if same_text is None else same_text.float()
        loss_motion = nn.functional.cross_entropy(logits, positive / positive.sum(1, keepdim=True))
        loss_text = nn.functional.cross_entropy(logits.T, positive.T / positive.T.sum(1, keepdim=True))
        return (loss_motion + loss_text) / 2


# ------------------------------------------------------------------------------------ text front ends
class _FeatureFrontEnd:
    """Texts -> the project's frozen token features (intermamba.text), cached per caption."""

    def __init__(self, encoder):
        self.encoder = encoder

    def __call__(self, texts: Sequence[str], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        features, mask = self.encoder.encode(list(texts))
        return features.to(device), mask.to(device)


class _ClipFrontEnd:
    """Texts -> CLIP BPE ids (B, 77), truncated, via open-clip-torch's tokenizer (an optional extra)."""

    def __init__(self):
        try:
            import open_clip
        except ImportError as err:
            raise ValueError("InterGen's interclip.ckpt needs the CLIP tokenizer: pip install open-clip-torch "
                             "(or: pip install 'intermamba[clip]')") from err
        self.tokenize = open_clip.tokenize

    def __call__(self, texts: Sequence[str], device: torch.device) -> tuple[torch.Tensor, None]:
        return self.tokenize(list(texts), context_length=CLIP_TOKENS).to(device), None


class Evaluator:
    """An InterCLIP network with its text front end: embeds captions and motions as numpy arrays.

    Build one with `Evaluator.load(path)` (an evaluator trained here, `.safetensors`, or InterGen's
    `interclip.ckpt`) or `Evaluator.from_config(preset, text_encoder)` (untrained, for training).
    """

    def __init__(self, net: InterCLIP, front_end, *, text_config: Optional[dict] = None,
                 device: Union[str, torch.device] = "cpu", chunk: int = 64):
        self.net = net.to(device).eval()
        self.front_end = front_end
        self.text_config = text_config or {}      # how to rebuild the text encoder (saved with the weights)
        self.device = torch.device(device)
        self.chunk = chunk                        # items per forward pass when embedding (memory only)

    @property
    def config(self) -> EvaluatorConfig:
        return self.net.config

    # ---------------------------------------------------------------------------------- construction
    @classmethod
    def from_config(cls, preset: Union[str, EvaluatorConfig], text_encoder=None, *, text_config: Optional[dict] = None,
                    device: Union[str, torch.device] = "cpu") -> "Evaluator":
        cfg = EVALUATOR_PRESETS[preset] if isinstance(preset, str) else preset
        if cfg.text_tokens == "clip":
            return cls(InterCLIP(cfg), _ClipFrontEnd(), device=device)
        if text_encoder is None:
            raise ValueError("an evaluator over token features needs a text encoder (intermamba.text)")
        cfg = dataclasses.replace(cfg, text_in_dim=text_encoder.dim, max_tokens=text_encoder.max_tokens)
        return cls(InterCLIP(cfg), _FeatureFrontEnd(text_encoder), text_config=text_config, device=device)

    @classmethod
    def load(cls, path: Union[str, Path], *, device: Union[str, torch.device] = "cpu", text_encoder=None) -> "Evaluator":
        """Load `path`: an evaluator saved by `save` (.safetensors) or InterGen's released interclip.ckpt.

        `text_encoder`: an already built encoder to reuse when it is the kind the evaluator was trained with.
        """
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"evaluator file {str(path)!r} not found; train one with `intermamba train-evaluator` "
                             "and pass it as --evaluator, or use InterGen's interclip.ckpt")
        if path.suffix == ".safetensors":
            return cls._load_safetensors(path, device, text_encoder)
        return cls._load_interclip(path, device)

    @classmethod
    def _load_safetensors(cls, path: Path, device, text_encoder) -> "Evaluator":
        from safetensors import SafetensorError
        from safetensors.torch import load_file, safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
            state = load_file(str(path))
        except (SafetensorError, OSError) as err:
            raise ValueError(f"{path} is not a readable safetensors file ({first_line(err)})") from err
        if meta.get("format") != EVALUATOR_FORMAT:
            raise ValueError(f"{path} is not an intermamba evaluator (metadata format={meta.get('format')!r})")
        if "evaluator_config" not in meta:
            raise ValueError(f"{path} lacks the evaluator_config metadata; the file is incomplete")
        try:
            cfg = EvaluatorConfig.from_json(meta["evaluator_config"])
        except ValueError as err:    # ConfigError included
            raise ValueError(f"{path}: bad metadata: {err}") from err
        try:
            text_config = json.loads(meta.get("text_config", "{}"))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: bad metadata: text_config is not valid JSON ({err})") from err
        if not isinstance(text_config, dict):
            raise ValueError(f"{path}: bad metadata: text_config must be a JSON object")
        if cfg.text_tokens == "clip":
            front_end = _ClipFrontEnd()
        else:
            # A caller's encoder (e.g. the generator's, to load it once) is used only if it is the one trained with.
            if text_encoder is None or text_config.get("encoder", text_encoder.name) != text_encoder.name:
                try:
                    text_encoder = _build_text_encoder(text_config)
                except ValueError as err:    # ConfigError, TextEncoderError
                    raise ValueError(f"{path}: bad metadata: text_config: {err}") from err
            if text_encoder.dim != cfg.text_in_dim:
                raise ValueError(f"{path} was trained on {cfg.text_in_dim}-d token features, the text encoder "
                                 f"gives {text_encoder.dim}-d")
            front_end = _FeatureFrontEnd(text_encoder)
        net = _network(cfg, path)
        net.load_state_dict(match_state_dict(net, state, f"{path} does not match its evaluator_config"))
        return cls(net, front_end, text_config=text_config, device=device)

    @classmethod
    def _load_interclip(cls, path: Path, device) -> "Evaluator":
        ckpt = load_torch_file(path)
        state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else None
        if not isinstance(state, dict):
            raise ValueError(f"{path} holds no state_dict")
        net = InterCLIP(EVALUATOR_PRESETS["interclip"])
        net.load_state_dict(match_state_dict(net, map_interclip_keys(state, path),
                                             f"{path} does not match InterGen's InterCLIP"))
        return cls(net, _ClipFrontEnd(), device=device)

    def save(self, path: Union[str, Path], *, half: bool = False, extra_metadata: Optional[dict] = None) -> Path:
        """Write the weights and config as safetensors, atomically (temp file + os.replace); `half` stores
        float16 (for shipping; weights load back as float32)."""
        from safetensors.torch import save_file

        path = Path(path)
        meta = {"format": EVALUATOR_FORMAT, "evaluator_config": self.config.to_json(),
                "text_config": json.dumps(self.text_config, sort_keys=True)}
        meta.update({k: str(v) for k, v in (extra_metadata or {}).items()})
        state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().contiguous()
                 for k, v in self.net.state_dict().items()}
        with atomic_path(path) as tmp:
            save_file(state, str(tmp), metadata=meta)
        return path

    # -------------------------------------------------------------------------------------- embedding
    def text_inputs(self, texts: Sequence[str]):
        return self.front_end(texts, self.device)

    @torch.no_grad()
    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        """(N,) captions -> (N, E) float32 scaled embeddings."""
        out = []
        for i in range(0, len(texts), self.chunk):
            tokens, mask = self.text_inputs(texts[i:i + self.chunk])
            out.append(self.net.encode_text(tokens, mask).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.config.embed_dim), np.float32)

    @torch.no_grad()
    def embed_motion(self, motion, lengths) -> np.ndarray:
        """motion (N, T, 2, 262) unnormalised features (array or tensor), lengths (N,) -> (N, E) float32."""
        motion = torch.as_tensor(np.asarray(motion), dtype=torch.float32)
        lengths = torch.as_tensor(np.asarray(lengths), dtype=torch.long)
        if len(motion) != len(lengths):
            raise ValueError(f"{len(motion)} motions but {len(lengths)} lengths")
        if len(lengths) and (int(lengths.min()) < 1 or int(lengths.max()) > motion.shape[1]):
            raise ValueError(f"lengths must lie in [1, {motion.shape[1]}], got [{int(lengths.min())}, {int(lengths.max())}]")
        out = []
        for i in range(0, len(motion), self.chunk):
            m = motion[i:i + self.chunk].to(self.device)
            out.append(self.net.encode_motion(m, lengths[i:i + self.chunk].to(self.device)).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.config.embed_dim), np.float32)


def _network(cfg: EvaluatorConfig, path: Path) -> InterCLIP:
    """InterCLIP(cfg), with sizes torch rejects (heads that do not divide a width) as one line naming the file."""
    try:
        return InterCLIP(cfg)
    except (AssertionError, ValueError, RuntimeError) as err:
        raise ValueError(f"{path}: its evaluator_config does not build a network ({first_line(err)})") from err


def _build_text_encoder(text_config: dict):
    from ..config import TextConfig, _build
    from ..text import build_text_encoder

    return build_text_encoder(_build(TextConfig, text_config, "text"))


# ------------------------------------------------------------------------------- InterGen checkpoint
# InterCLIP's state_dict names (datasets/evaluator_models.py, models/nets.py::MotionEncoder) -> ours.
_INTERCLIP_PREFIXES = (
    ("motion_encoder.query_token", "motion.query_token"),
    ("motion_encoder.embed_motion.", "motion.embed."),
    ("motion_encoder.transformer.", "motion.transformer."),
    ("motion_encoder.out_ln.", "motion.ln."),
    ("motion_encoder.out.", "motion.proj."),
    ("token_embedding.", "text.token_embedding."),
    ("positional_embedding", "text.positional_embedding"),
    ("textTransEncoder.", "text.transformer."),
    ("text_ln.", "text.ln."),
    ("out.", "text.proj."),
    ("latent_scale", "latent_scale"),
)
# Constant tables InterGen stores as buffers; ours are recomputed (non-persistent), so they are dropped.
_INTERCLIP_CONSTANTS = ("motion_encoder.sequence_pos_encoder.pe",)


def map_interclip_keys(state: dict, source: Union[str, Path] = "the InterCLIP checkpoint") -> dict:
    """InterGen's Lightning state_dict ('model.' prefix) -> InterCLIP (ours) names. Unknown keys raise."""
    out = {}
    for key, value in state.items():
        if not isinstance(key, str):
            raise ValueError(f"{source}: its state_dict has a key {key!r} that is not a name")
        key = key[len("model."):] if key.startswith("model.") else key
        if key in _INTERCLIP_CONSTANTS:
            continue
        for theirs, ours in _INTERCLIP_PREFIXES:
            if key.startswith(theirs):
                out[ours + key[len(theirs):]] = value
                break
        else:
            raise ValueError(f"unexpected key {key!r} in {source}; is this InterGen's interclip.ckpt?")
    return out
