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
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import ModelConfig
from .blocks import AdaLN, swap_persons
from .denoiser import (NUM_PERSONS, InterMamba, TextHead, TimestepEmbedding, sinusoidal_embedding, stack_persons,
                       unstack_persons)


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
        self.text_head = TextHead(cfg.text_dim, layers=cfg.text_layers, heads=cfg.text_heads, ff=cfg.text_ff,
                                  dropout=cfg.dropout)
        self.text_proj = nn.Linear(cfg.text_dim, d)
        self.time_embed = TimestepEmbedding(d)
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
        h = self.input_proj(x) + position.to(x.dtype)                               # (2B, T, D)
        for block in self.blocks:
            h = block(h, swap_persons(h), emb, mask)                                # both read the previous layer
        return unstack_persons(self.output_proj(h), mask)                           # (B, T, 2, F), no final norm

    def fusion_weights(self) -> dict[str, float]:
        """No learnable fusion in InterGen: empty, so logging code treats both models alike."""
        return {}
