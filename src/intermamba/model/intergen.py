"""InterGen's denoiser (Liang et al., IJCV 2024), the baseline of Table 3, called exactly like InterMamba.

Written from reference/intergen-facts.md section 2 (not from its code):

    x_t (B, T, 2, 262) --shared Linear 262->1024 + frame sinusoid--> h_a, h_b
    emb = TimeMLP(sinusoid(t)) + Linear(768->1024)(pooled text)        (text: the trainable 2-layer head)
    8 x block, one set of weights for both persons, each reading the other's previous-layer features:
        h1  = x  + SelfAttn(AdaLN(x))
        h2  = h1 + CrossAttn(q = AdaLN(h1), kv = AdaLN'(other))
        out = h2 + FFN(AdaLN(h2))                                      (second FFN Linear zero-initialised)
    --shared zero-init Linear 1024->262 (no final norm)--> x0-hat (B, T, 2, 262)

Both persons run as one batch [a; b] (2B rows) with the other person [b; a], so one call serves both, and
swapping the persons swaps the output. Attention keeps InterGen's `add_zero_attn=True` (a zero key/value
appended after the projections, so a query can attend to "nothing"), written with scaled_dot_product_attention
rather than nn.MultiheadAttention: the same parameters (182,381,830 trainable with text_dim 768) and the same
function, on the fused attention kernel.

InterGen's released weights load with `map_intergen_state_dict` (below; files, CLIP and statistics in
intermamba/intergen_compat.py). They need `model.intergen_exact`, two details of InterGen's code that hold no
weights: its sinusoid table interleaves sin and cos channels (ours concatenates them), and its text head attends
to all 77 CLIP tokens, the padding after the end-of-text token included (ours masks the padding).
"""

from __future__ import annotations

import re
from typing import Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import ModelConfig
from .blocks import AdaLN, swap_persons
from .denoiser import (NUM_PERSONS, InterMamba, TextHead, TimestepEmbedding, sinusoidal_embedding, stack_persons,
                       unstack_persons)


def interleave_sin_cos(emb: torch.Tensor) -> torch.Tensor:
    """[sin_0..sin_h | cos_0..cos_h] -> [sin_0, cos_0, sin_1, cos_1, ...] (InterGen's PositionalEncoding order)."""
    half = emb.shape[-1] // 2
    pairs = torch.stack([emb[..., :half], emb[..., half:2 * half]], dim=-1).flatten(-2)     # (..., 2 half)
    return torch.cat([pairs, emb[..., 2 * half:]], dim=-1)                                  # odd dim: pad stays last


class InterleavedTimestepEmbedding(TimestepEmbedding):
    """TimestepEmbedding on InterGen's interleaved sinusoid (the same parameters)."""

    def forward(self, t):
        return self.mlp(interleave_sin_cos(sinusoidal_embedding(t, self.dim)).to(self.mlp[0].weight.dtype))


class FullContextTextHead(TextHead):
    """TextHead as InterGen runs it: attention over every token given (CLIP's padding after EOT included), still
    pooled at the last token the mask marks (EOT). The same parameters as TextHead."""

    def forward(self, tokens, mask=None):
        """tokens: (B, L, dim); mask (B, L) bool, True up to and including EOT -> (B, dim)."""
        x = self.norm(self.encoder(tokens))                                          # (B, L, dim), no padding mask
        if mask is None:
            last = torch.full((x.shape[0],), x.shape[1] - 1, device=x.device)
        else:
            last = (mask.sum(dim=1) - 1).clamp(min=0)                                # (B,)
        return x[torch.arange(x.shape[0], device=x.device), last]


class Attention(nn.Module):
    """Multi-head attention of x over `context` (self-attention when context is x), with a zero key/value slot."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.q_proj = nn.Linear(dim, dim)
        self.kv_proj = nn.Linear(dim, 2 * dim)
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, x, context, key_mask=None):
        """x (b, T, dim), context (b, S, dim), key_mask (b, S) bool True = valid or None -> (b, T, dim)."""
        b, T, dim = x.shape
        q = self.q_proj(x)                                                          # (b, T, dim)
        k, v = self.kv_proj(context).chunk(2, dim=-1)                               # (b, S, dim) each
        zero = k.new_zeros(b, 1, dim)
        k, v = torch.cat([k, zero], dim=1), torch.cat([v, zero], dim=1)             # add_zero_attn: (b, S+1, dim)
        q, k, v = (y.view(b, -1, self.heads, dim // self.heads).transpose(1, 2) for y in (q, k, v))  # (b, h, *, hd)
        attn_mask = None
        if key_mask is not None:
            always = key_mask.new_ones(b, 1)                                        # the zero slot is always visible
            attn_mask = torch.cat([key_mask, always], dim=1)[:, None, None, :]      # (b, 1, 1, S+1)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.out_proj(y.transpose(1, 2).reshape(b, T, dim))


class InterGenBlock(nn.Module):
    """Self-attention, cross-attention to the other person, FFN; each behind its own AdaLN on the condition."""

    def __init__(self, dim: int, *, heads: int, ff: int, dropout: float):
        super().__init__()
        self.self_norm = AdaLN(dim, dim)
        self.self_attn = Attention(dim, heads, dropout)
        self.cross_norm_q = AdaLN(dim, dim)
        self.cross_norm_kv = AdaLN(dim, dim)
        self.cross_attn = Attention(dim, heads, dropout)
        self.ff_norm = AdaLN(dim, dim)
        self.ff = nn.Sequential(nn.Linear(dim, ff), nn.GELU(), nn.Dropout(dropout), nn.Linear(ff, dim))
        nn.init.zeros_(self.ff[-1].weight)                                          # zero-init (InterGen)
        nn.init.zeros_(self.ff[-1].bias)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, other, emb, mask=None):
        """x, other (b, T, dim): this and the other person's previous-layer features; emb (b, dim); mask (b, T)."""
        h = self.self_norm(x, emb)
        x = x + self.drop(self.self_attn(h, h, mask))
        x = x + self.drop(self.cross_attn(self.cross_norm_q(x, emb), self.cross_norm_kv(other, emb), mask))
        return x + self.ff(self.ff_norm(x, emb))


class InterGen(nn.Module):
    """The baseline denoiser. `model(x_t, t, text_features, text_mask=None, lengths=None, *, drop_text=None)`."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        d = cfg.latent_dim
        exact = cfg.intergen_exact
        self.text_head = (FullContextTextHead if exact else TextHead)(
            cfg.text_dim, layers=cfg.text_layers, heads=cfg.text_heads, ff=cfg.text_ff, dropout=cfg.dropout)
        self.text_proj = nn.Linear(cfg.text_dim, d)
        self.time_embed = (InterleavedTimestepEmbedding if exact else TimestepEmbedding)(d)
        self.input_proj = nn.Linear(cfg.input_dim, d)                               # shared by both persons
        self.blocks = nn.ModuleList(
            InterGenBlock(d, heads=cfg.num_heads, ff=cfg.ff_size, dropout=cfg.dropout) for _ in range(cfg.num_layers))
        self.output_proj = nn.Linear(d, cfg.input_dim)                              # no final norm (InterGen)
        nn.init.zeros_(self.output_proj.weight)
        nn.init.zeros_(self.output_proj.bias)

    # The condition (time + pooled text, null rows zeroed) and the input checks are InterMamba's, unchanged.
    condition = InterMamba.condition
    _check_inputs = InterMamba._check_inputs

    def forward(self, x_t, t, text_features, text_mask=None, lengths=None, *, drop_text=None):
        """x_t (B, T, 2, F) normalised, t (B,), text_features (B, L, text_dim), text_mask (B, L) bool,
        lengths (B,) or None, drop_text (B,) bool or None -> x0-hat (B, T, 2, F)."""
        self._check_inputs(x_t, t, text_features, text_mask, lengths, drop_text)
        emb = self.condition(t, text_features, text_mask, drop_text).repeat(NUM_PERSONS, 1)    # (2B, D)
        x, mask = stack_persons(x_t, lengths)                                       # (2B, T, F), (2B, T)
        position = sinusoidal_embedding(torch.arange(x.shape[1], device=x.device), self.config.latent_dim)
        if self.config.intergen_exact:
            position = interleave_sin_cos(position)
        h = self.input_proj(x) + position.to(x.dtype)                               # (2B, T, D)
        for block in self.blocks:
            h = block(h, swap_persons(h), emb, mask)                                # both read the previous layer
        return unstack_persons(self.output_proj(h), mask)                           # (B, T, 2, F), no final norm

    def fusion_weights(self) -> dict[str, float]:
        """No learnable fusion in InterGen: empty, so logging code treats both models alike."""
        return {}


# ------------------------------------------------------------------------------- InterGen's released weights
# Names below are InterGen's (models/intergen.py, nets.py, blocks.py, layers.py at tr3e/InterGen): the InterGen
# module holds `decoder.net` (InterDenoiser), the trainable text head `clipTransEncoder` + `clip_ln`, and the
# frozen CLIP-L text tower `token_embedding`, `positional_embedding`, `clip_transformer`, `ln_final`.
_INTERGEN_RENAMES = (
    ("decoder.net.embed_timestep.time_embed.", "time_embed.mlp."),
    ("decoder.net.motion_embed.", "input_proj."),
    ("decoder.net.text_embed.", "text_proj."),
    ("decoder.net.out.linear.", "output_proj."),
    ("clipTransEncoder.", "text_head.encoder."),            # nn.TransformerEncoder both sides: same inner names
    ("clip_ln.", "text_head.norm."),
)
_INTERGEN_BLOCK_RENAMES = (                                  # inside decoder.net.blocks.<i>.
    ("sa_block.norm.emb_layers.", "self_norm.modulation."),
    ("sa_block.attention.", "self_attn."),
    ("ca_block.norm.emb_layers.", "cross_norm_q.modulation."),
    ("ca_block.xf_norm.emb_layers.", "cross_norm_kv.modulation."),
    ("ca_block.attention.", "cross_attn."),
    ("ffn.norm.emb_layers.", "ff_norm.modulation."),
    ("ffn.linear1.", "ff.0."),
    ("ffn.linear2.", "ff.3."),
)
_INTERGEN_BLOCK = re.compile(r"decoder\.net\.blocks\.(\d+)\.(.+)")
# Persistent buffers of InterGen's PositionalEncoding (one module, reached twice); we compute the table.
INTERGEN_SINUSOID_TABLES = ("decoder.net.sequence_pos_encoder.pe", "decoder.net.embed_timestep.sequence_pos_encoder.pe")
# The frozen CLIP text tower: not part of our denoiser (intermamba.text.CLIPTextTower reads it, OpenAI names).
INTERGEN_CLIP_PREFIXES = {"token_embedding.": "token_embedding.", "positional_embedding": "positional_embedding",
                          "clip_transformer.": "transformer.", "ln_final.": "ln_final."}


def map_intergen_state_dict(state: Mapping[str, torch.Tensor]) -> tuple[dict, dict]:
    """InterGen's `InterGen` state_dict (Lightning's "model." prefix removed) -> (state_dict of our InterGen with
    intergen_exact, the CLIP text tower's tensors under OpenAI's names). Pure renaming, except that
    nn.MultiheadAttention's packed in_proj (3D, D) = [q; k; v] splits into our q_proj [q] and kv_proj [k; v]
    (add_zero_attn appends zeros after the projections, so it holds no weights). A key InterGen does not have, or
    a sinusoid table that is not InterGen's interleaved one, raises ValueError."""
    ours, clip = {}, {}
    for key, value in state.items():
        clip_key = next((new + key[len(old):] for old, new in INTERGEN_CLIP_PREFIXES.items() if key.startswith(old)),
                        None)
        if clip_key is not None:
            clip[clip_key] = value
        elif key in INTERGEN_SINUSOID_TABLES:
            _check_sinusoid_table(key, value)
        elif (match := _INTERGEN_BLOCK.fullmatch(key)) is not None:
            index, rest = match.groups()
            name = _rename(rest, _INTERGEN_BLOCK_RENAMES, key)
            module, _, param = name.rpartition(".")
            if module in ("self_attn", "cross_attn") and param in ("in_proj_weight", "in_proj_bias"):
                dim = value.shape[0] // 3
                suffix = "weight" if param == "in_proj_weight" else "bias"
                ours[f"blocks.{index}.{module}.q_proj.{suffix}"] = value[:dim]
                ours[f"blocks.{index}.{module}.kv_proj.{suffix}"] = value[dim:]
            else:
                ours[f"blocks.{index}.{name}"] = value
        else:
            ours[_rename(key, _INTERGEN_RENAMES, key)] = value
    return ours, clip


def _rename(key: str, table, original: str) -> str:
    for old, new in table:
        if key.startswith(old):
            return new + key[len(old):]
    raise ValueError(f"unexpected key {original!r}: not part of InterGen's model; is this InterGen's intergen.ckpt?")


def _check_sinusoid_table(key: str, table: torch.Tensor) -> None:
    """InterGen's saved table must be the interleaved sinusoid that intergen_exact computes."""
    if table.dim() != 2:
        raise ValueError(f"{key} has shape {tuple(table.shape)}; InterGen's sinusoid table is (max_len, latent_dim)")
    if table.is_meta:
        return
    rows, dim = table.shape
    expected = interleave_sin_cos(sinusoidal_embedding(torch.arange(rows), dim))
    if not torch.allclose(table.float(), expected, atol=1e-3):   # float32 angles up to 5000 rad: ~3e-4 apart
        raise ValueError(f"{key} is not InterGen's interleaved sin/cos table; this checkpoint is laid out differently")
