"""The InterMamba denoiser f_theta(x_t, t, c) -> x0-hat (paper Fig. 4, Secs. 3.1 and 4).

    x_t (B, T, 2, 262) --per-person Linear--> h_a, h_b (+ frame position + condition)
        --N x [Self-ASTM -> LIIA -> Cross-ASTM] (both persons, one set of weights)--> LayerNorm --zero-init Linear-->
    x0-hat (B, T, 2, 262)

With model.predict "v" (ours; the paper predicts x0 directly) the zero-init Linear gives v instead and the
denoiser returns x0-hat = sqrt(ab_t) x_t - sqrt(1 - ab_t) v (Salimans & Ho 2022), still an x0 estimate.

The condition: cond = TimeMLP(sinusoid(t)) + Linear(text), with text the pooled output of a trainable text head
(InterGen's 2-layer transformer over the frozen encoder's token features). Fig. 4 "combines the text features with
the initial hidden states": we add cond to every frame of h_a and h_b, and LIIA's AdaLN reads it again in every
layer (Eq. 11). The null condition of classifier-free guidance zeroes the pooled text vector (InterGen).
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn as nn

from ..config import ModelConfig
from .blocks import InterMambaLayer

NUM_PERSONS = 2
SINUSOID_BASE = 10_000.0  # the transformer's positional-encoding base (used by InterGen for time and frames)


def sinusoidal_embedding(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """positions (...,) -> (..., dim): [sin | cos] at geometrically spaced frequencies."""
    half = dim // 2
    freqs = torch.exp(-math.log(SINUSOID_BASE) * torch.arange(half, device=positions.device) / half)
    angles = positions.float()[..., None] * freqs                                   # (..., half)
    emb = torch.cat([angles.sin(), angles.cos()], dim=-1)
    return nn.functional.pad(emb, (0, dim - 2 * half))                              # odd dim: one zero column


class TimestepEmbedding(nn.Module):
    """t (B,) integer diffusion step -> (B, dim): sinusoid followed by Linear -> SiLU -> Linear (InterGen)."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t):
        return self.mlp(sinusoidal_embedding(t, self.dim).to(self.mlp[0].weight.dtype))


class TextHead(nn.Module):
    """Frozen-encoder tokens (B, L, text_dim) + mask -> pooled text (B, text_dim) (InterGen's trainable head).

    A post-norm TransformerEncoder with a key padding mask, then LayerNorm, then the feature of the last valid token
    (CLIP's EOT, BERT's SEP: both encoders put their summary token last).
    """

    def __init__(self, dim: int, *, layers: int, heads: int, ff: int, dropout: float):
        super().__init__()
        layer = nn.TransformerEncoderLayer(dim, heads, ff, dropout, activation="gelu", batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)

    def forward(self, tokens, mask=None):
        """tokens: (B, L, dim); mask (B, L) bool, True = real token (a prefix) -> (B, dim)."""
        if mask is None:
            mask = torch.ones(tokens.shape[:2], dtype=torch.bool, device=tokens.device)
        mask = mask.clone()
        mask[:, 0] = True          # a row with no valid token would make attention NaN; encoders never emit one
        x = self.norm(self.encoder(tokens, src_key_padding_mask=~mask))             # (B, L, dim)
        last = (mask.sum(dim=1) - 1).clamp(min=0)                                    # (B,)
        return x[torch.arange(x.shape[0], device=x.device), last]


def stack_persons(x_t: torch.Tensor, lengths=None):
    """(B, T, 2, F) -> rows [person a; person b] (2B, T, F), and the valid-frame mask (2B, T) or None."""
    batch, frames, persons, feat = x_t.shape
    mask = None
    if lengths is not None:
        mask = torch.arange(frames, device=x_t.device)[None] < lengths.to(x_t.device)[:, None]  # (B, T)
        mask = mask.repeat(persons, 1)                                                         # (2B, T)
    return x_t.permute(2, 0, 1, 3).reshape(persons * batch, frames, feat), mask


def unstack_persons(out: torch.Tensor, mask=None) -> torch.Tensor:
    """(2B, T, F) rows [a; b] -> (B, T, 2, F), padded frames set to exactly 0."""
    if mask is not None:
        out = out * mask[..., None].to(out.dtype)
    rows, frames, feat = out.shape
    return out.view(NUM_PERSONS, rows // NUM_PERSONS, frames, feat).permute(1, 2, 0, 3)


class InterMamba(nn.Module):
    """The denoiser. `model(x_t, t, text_features, text_mask=None, lengths=None, *, drop_text=None)` -> x0-hat."""

    def __init__(self, cfg: ModelConfig, alphas_cumprod: Optional[torch.Tensor] = None):
        super().__init__()
        self.config = cfg
        if cfg.predict == "v":                # alpha_bar_t (N,), from the config: not saved with the weights
            if alphas_cumprod is None:
                raise ValueError("model.predict=v needs the diffusion schedule's alphas_cumprod")
            self.register_buffer("alphas_cumprod", alphas_cumprod.clone(), persistent=False)
        d = cfg.latent_dim
        d_inner = cfg.expand * d
        self.text_head = TextHead(cfg.text_dim, layers=cfg.text_layers, heads=cfg.text_heads, ff=cfg.text_ff,
                                  dropout=cfg.dropout)
        self.text_proj = nn.Linear(cfg.text_dim, d)
        self.time_embed = TimestepEmbedding(d)
        self.input_proj = nn.Linear(cfg.input_dim, d)                               # shared by both persons
        # model.person_embedding: slot 1 and slot 2 told apart (breaks the paper's person-swap equivariance)
        self.person_embed = nn.Parameter(torch.zeros(NUM_PERSONS, d)) if cfg.person_embedding else None
        astm = dict(spatial_mode=cfg.spatial_mode, max_frames=cfg.max_frames, num_joint_tokens=cfg.num_joint_tokens,
                    d_state=cfg.d_state, d_conv=cfg.d_conv, dt_rank=cfg.dt_rank, expand=cfg.expand,
                    use_temporal=cfg.use_temporal, adaptive_fusion=cfg.adaptive_fusion,
                    bidirectional=cfg.bidirectional)
        self.layers = nn.ModuleList(
            InterMambaLayer(d, d_inner, cond_dim=d, dropout=cfg.dropout, use_cross=cfg.use_cross,
                            use_liia=cfg.use_liia, liia_mode=cfg.liia_mode, liia_conv=cfg.liia_conv,
                            liia_channels=cfg.liia_channels, liia_hidden=cfg.liia_expand * d,
                            block_condition=cfg.block_condition, **astm)
            for _ in range(cfg.num_layers))
        self.norm_out = nn.LayerNorm(d)     # Mamba's final norm (InterGen has none; our residual stream is pre-norm)
        self.output_proj = nn.Linear(d, cfg.input_dim)
        self._init_weights()

    @torch.no_grad()
    def _init_weights(self):
        # Zero-initialised output: the untrained model predicts x0 = 0 (InterGen).
        nn.init.zeros_(self.output_proj.weight)
        nn.init.zeros_(self.output_proj.bias)
        # Mamba's prenorm-residual rescaling: each write into the residual stream scaled by 1/sqrt(#writes).
        residual = [w for layer in self.layers for w in layer.residual_projections()]
        for weight in residual:
            weight /= math.sqrt(len(residual))

    def condition(self, t, text_features, text_mask=None, drop_text=None):
        """-> cond (B, D): time embedding + projected pooled text (zeroed for drop_text rows: the null condition)."""
        text = self.text_head(text_features, text_mask)                              # (B, text_dim)
        if drop_text is not None:
            text = text * (~drop_text.to(torch.bool))[:, None].to(text.dtype)
        return self.time_embed(t) + self.text_proj(text)

    def forward(self, x_t, t, text_features, text_mask=None, lengths=None, *, drop_text=None):
        """x_t (B, T, 2, F) normalised, t (B,) in [0, num_timesteps), text_features (B, L, text_dim),
        text_mask (B, L) bool, lengths (B,) valid frames or None, drop_text (B,) bool -> x0-hat (B, T, 2, F)."""
        self._check_inputs(x_t, t, text_features, text_mask, lengths, drop_text)
        cond = self.condition(t, text_features, text_mask, drop_text).repeat(NUM_PERSONS, 1)   # (2B, D)
        x, mask = stack_persons(x_t, lengths)                                       # (2B, T, F), (2B, T)
        h = self.input_proj(x) + cond[:, None]                                      # (2B, T, D)
        if self.config.frame_position:
            h = h + sinusoidal_embedding(torch.arange(x.shape[1], device=x.device), self.config.latent_dim).to(x.dtype)
        if self.person_embed is not None:                                          # rows [person a; person b]
            h = h + self.person_embed.repeat_interleave(x_t.shape[0], dim=0)[:, None].to(h.dtype)
        for layer in self.layers:
            h = layer(h, cond, mask)
        out = unstack_persons(self.output_proj(self.norm_out(h)), mask)             # (B, T, 2, F)
        if self.config.predict == "x0":
            return out                                                              # Eq. (2): x0-hat
        ab = self.alphas_cumprod[t.long()].to(out.dtype)[:, None, None, None]      # (B, 1, 1, 1) alpha_bar_t
        x0_hat = ab.sqrt() * x_t - (1 - ab).sqrt() * out                            # v -> x0-hat
        if mask is not None:                                                        # padding exactly 0, as x0's
            x0_hat = x0_hat * mask[:x_t.shape[0], :, None, None].to(out.dtype)
        return x0_hat

    def fusion_weights(self) -> dict[str, float]:
        """{'layer0.w_alpha': ..., 'layer0.w_beta': ..., 'layer0.alpha_c': ..., 'layer0.beta_c': ...} for logging."""
        return {f"layer{i}.{name}": value for i, layer in enumerate(self.layers)
                for name, value in layer.fusion_weights().items()}

    def _check_inputs(self, x_t, t, text_features, text_mask, lengths, drop_text):
        cfg = self.config
        if x_t.dim() != 4 or x_t.shape[2] != NUM_PERSONS or x_t.shape[3] != cfg.input_dim:
            raise ValueError(f"x_t must have shape (B, T, {NUM_PERSONS}, {cfg.input_dim}), got {tuple(x_t.shape)}")
        batch = x_t.shape[0]
        if t.shape != (batch,):
            raise ValueError(f"t must have shape ({batch},) (one timestep per sample), got {tuple(t.shape)}")
        if text_features.dim() != 3 or text_features.shape[0] != batch or text_features.shape[2] != cfg.text_dim:
            raise ValueError(f"text_features must have shape ({batch}, L, {cfg.text_dim}) (model.text_dim must "
                             f"match the text encoder), got {tuple(text_features.shape)}")
        if text_mask is not None and text_mask.shape != text_features.shape[:2]:
            raise ValueError(f"text_mask must have shape {tuple(text_features.shape[:2])}, got {tuple(text_mask.shape)}")
        if lengths is not None and lengths.shape != (batch,):
            raise ValueError(f"lengths must have shape ({batch},), got {tuple(lengths.shape)}")
        if drop_text is not None and drop_text.shape != (batch,):
            raise ValueError(f"drop_text must have shape ({batch},), got {tuple(drop_text.shape)}")
