"""Adaptive Spatio-Temporal Mamba (paper Sec. 4.1, Eqs. 7-9) and its cross variant ASTM_cross (Eq. 13).

Two branches, each Linear -> Conv -> SSM -> LayerNorm, fused by learnable scalars:
    h_t = LayerNorm(SSM_temp(Conv_temp(Linear(h))))          (7)   scans frames
    h_s = LayerNorm(SSM_spat(Conv_spat(Linear(h'))))         (8)   scans the transposed tensor
    z   = w_alpha h_t + w_beta h_s                           (9)
ASTM_cross (Eq. 13) is the same with the MSSM: the scanned input comes from the person, B, C and delta from the
interaction features h_inter, arranged exactly like the input. (Eq. 13 names the temporal output c_s and the
spatial one c_t; alpha_c weighs the temporal branch, as w_alpha does in Eq. 9.)

The spatial branch has two layouts (config `spatial_mode`):
- "frames": the paper's transpose (B, L, D) -> (B, D, L): the latent features are the scanned axis and the frames
  are the channels. The channel count is fixed, so sequences are zero-padded to a window of `max_frames`; B, C and
  delta at each feature step mix all frames (x_proj acts over channels), which gives this branch its global view
  of time.
- "joints": the latent is split into `num_joint_tokens` groups, scanned within each frame (channels = group width).
  Works at any sequence length.

Masking: padded frames (beyond `lengths`) must not change valid outputs. Every operation that mixes frames sees
zeros there: the conv input (its window reaches them in the backward or frames layouts), the scanned input (a zero
input keeps a zero state zero, so a backward scan starts fresh at the last valid frame) and the B/C/delta source
(mixed across frame-channels in the "frames" layout). Per-frame operations need no mask.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .ssm import SelectiveSSM, auto_dt_rank

FIXED_FUSION_WEIGHT = 0.5  # "w/o adaptive param." ablation (Table 4): plain average of the two branches
FUSION_INIT = 0.5          # learnable weights start at the same average


def zero_padding(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    return x if mask is None else x.masked_fill(~mask, 0.0)


# ------------------------------------------------------------------------------------------------ layouts
class TemporalLayout:
    """(b, T, C) <-> scan layout (b, C, T): channels = latent features, scanned axis = frames."""

    def to_scan(self, x, mask):
        return x.transpose(1, 2), (None if mask is None else mask[:, None, :])   # (b, C, T), mask (b, 1, T)

    def from_scan(self, y, batch, frames):
        return y.transpose(1, 2)                                                   # (b, T, C)

    def scan_channels(self, d_inner):
        return d_inner


class FramesLayout:
    """(b, T, C) <-> (b, max_frames, C): channels = frames (zero-padded to the window), scanned axis = features."""

    def __init__(self, max_frames: int):
        self.max_frames = max_frames

    def to_scan(self, x, mask):
        frames = x.shape[1]
        if frames > self.max_frames:
            raise ValueError(f"a sequence of {frames} frames exceeds the spatial window max_frames="
                             f"{self.max_frames} of spatial_mode 'frames'; use a larger model.max_frames or "
                             "spatial_mode 'joints' (any length)")
        pad = self.max_frames - frames
        if mask is None:
            if pad == 0:
                return x, None                       # a full window: nothing to pad, nothing to mask
            mask = x.new_ones(x.shape[0], frames, dtype=torch.bool)
        return F.pad(x, (0, 0, 0, pad)), F.pad(mask, (0, pad))[:, :, None]   # (b, Lmax, C), mask (b, Lmax, 1)

    def from_scan(self, y, batch, frames):
        return y[:, :frames]                                                       # (b, T, C)

    def scan_channels(self, d_inner):
        return self.max_frames


class JointsLayout:
    """(b, T, C) <-> (b T, C / J, J): the latent split into J joint tokens, scanned within each frame."""

    def __init__(self, num_tokens: int):
        self.num_tokens = num_tokens

    def to_scan(self, x, mask):
        b, frames, c = x.shape
        tokens = x.reshape(b * frames, self.num_tokens, c // self.num_tokens)      # (b T, J, C/J)
        return tokens.transpose(1, 2), None      # within a frame: padded frames cannot reach valid ones

    def from_scan(self, y, batch, frames):
        return y.transpose(1, 2).reshape(batch, frames, -1)                        # (b, T, C)

    def scan_channels(self, d_inner):
        return d_inner // self.num_tokens


# ------------------------------------------------------------------------------------------------ branch
class ScanBranch(nn.Module):
    """Conv -> (M)SSM -> LayerNorm on one layout (Eq. 7 or 8 after its Linear; Eq. 13 with a source)."""

    def __init__(self, layout, d_inner: int, *, d_state: int, d_conv: int, dt_rank, expand: int,
                 directions: int = 1):
        super().__init__()
        self.layout, self.directions, self.d_conv = layout, directions, d_conv
        channels = layout.scan_channels(d_inner)
        rank = auto_dt_rank(channels, expand) if dt_rank == "auto" else dt_rank
        # Depthwise conv over the scanned axis; causal in each channel's scan direction (Mamba's conv).
        self.conv = nn.Conv1d(channels, channels, d_conv, groups=channels, padding=d_conv - 1)
        self.ssm = SelectiveSSM(channels, d_state=d_state, dt_rank=rank, directions=directions)
        self.norm = nn.LayerNorm(d_inner)

    def _conv(self, x):
        """(b, C, L) -> (b, C, L): causal window; for the backward half of the channels the anti-causal one."""
        length = x.shape[-1]
        y = self.conv(x)                                                          # (b, C, L + d_conv - 1)
        if self.directions == 1:
            return y[..., :length]
        forward, backward = y.chunk(2, dim=1)
        return torch.cat([forward[..., :length], backward[..., self.d_conv - 1:]], dim=1)

    def forward(self, x, mask=None, source=None):
        """x, source: (b, T, d_inner) after the branch's Linear; mask (b, T) bool or None -> (b, T, d_inner)."""
        batch, frames, _ = x.shape
        u, scan_mask = self.layout.to_scan(x, mask)
        u = F.silu(self._conv(zero_padding(u, scan_mask)))
        u = zero_padding(u, scan_mask)        # the conv bias lands on padded frames: keep the scan state zero
        if source is not None:
            source = zero_padding(self.layout.to_scan(source, mask)[0], scan_mask)
        y = self.ssm(u, source)                                                   # Eqs. 4-6 / MSSM
        return self.norm(self.layout.from_scan(y, batch, frames))


# ------------------------------------------------------------------------------------------------ ASTM
class ASTM(nn.Module):
    """Eqs. 7-9 (self) or Eq. 13 (cross: `forward(h, mask, inter)`), output (b, T, d_inner)."""

    def __init__(self, d_model: int, d_inner: int, *, spatial_mode: str, max_frames: int, num_joint_tokens: int,
                 d_state: int, d_conv: int, dt_rank, expand: int, use_temporal: bool = True,
                 adaptive_fusion: bool = True, bidirectional: bool = False, cross: bool = False):
        super().__init__()
        self.d_inner, self.cross = d_inner, cross
        branch = dict(d_state=d_state, d_conv=d_conv, dt_rank=dt_rank, expand=expand)
        self.temporal = (ScanBranch(TemporalLayout(), d_inner, directions=2 if bidirectional else 1, **branch)
                         if use_temporal else None)
        if spatial_mode == "frames":
            spatial_layout = FramesLayout(max_frames)
        elif spatial_mode == "joints":
            spatial_layout = JointsLayout(num_joint_tokens)
        else:
            raise ValueError(f"spatial_mode must be 'frames' or 'joints', got {spatial_mode!r}")
        self.spatial = ScanBranch(spatial_layout, d_inner, **branch)
        num_branches = 2 if use_temporal else 1
        # The Linear of Eqs. 7 and 8 for all branches in one matmul; the MSSM's source gets its own Linear.
        self.in_proj = nn.Linear(d_model, num_branches * d_inner)
        self.source_proj = nn.Linear(d_model, num_branches * d_inner) if cross else None
        # Eq. 9 / Eq. 13: w_alpha (alpha_c) weighs the temporal branch, w_beta (beta_c) the spatial one. The
        # "w/o adaptive param." ablation keeps them fixed (buffers, not trained); a missing branch has none.
        for name, present in (("w_alpha", use_temporal), ("w_beta", True)):
            if present and adaptive_fusion:
                setattr(self, name, nn.Parameter(torch.tensor(FUSION_INIT)))
            else:
                self.register_buffer(name, torch.tensor(FIXED_FUSION_WEIGHT) if present else None)

    def forward(self, h, mask=None, inter=None):
        """h: (b, T, D) normalised features; mask (b, T) bool; inter: h_inter for the cross variant, (b, T, D) per
        person, or (b / 2, T, D) one per pair, shared by both persons (rows [a; b]): projected once, then repeated."""
        if self.cross != (inter is not None):
            raise ValueError("ASTM_cross needs the interaction features h_inter; the self ASTM takes none")
        xs = self.in_proj(h).split(self.d_inner, dim=-1)                         # per branch (b, T, d_inner)
        sources = (None,) * len(xs)
        if self.cross:
            source = F.silu(self.source_proj(inter))                             # (b or b / 2, T, n d_inner)
            if source.shape[0] != h.shape[0]:
                source = source.repeat(h.shape[0] // source.shape[0], 1, 1)     # the pair's h_inter for a and b
            sources = source.split(self.d_inner, dim=-1)
        z = self.w_beta * self.spatial(xs[-1], mask, sources[-1])               # Eq. 8 (spatial)
        if self.temporal is not None:
            z = z + self.w_alpha * self.temporal(xs[0], mask, sources[0])       # Eqs. 7, 9
        return z

    def fusion_weights(self) -> dict[str, float]:
        names = ("alpha_c", "beta_c") if self.cross else ("w_alpha", "w_beta")
        return {name: float(w.detach()) for name, w in zip(names, (self.w_alpha, self.w_beta)) if w is not None}
