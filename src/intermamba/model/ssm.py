"""The selective state space model (paper Eqs. 4-6) and its mixed variant, the MSSM (Sec. 4.4).

One module serves both: the SSM computes B, C and delta from its own input u; the MSSM computes them from a
second sequence, the interaction features, while u is still the sequence that is scanned. Layout is the scan's
channel-first (batch, channels, length); "length" is whatever axis a branch scans (frames, features, joints).

Directions: with `directions=2` the second half of the channels scans the sequence backwards (its own A, D and
dt bias, its own B and C as a second group), so a bidirectional scan costs no more than a causal one and is a
single `selective_scan` call.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from ..ops import selective_scan

# Mamba's initialisation of the step size (mamba_simple.py): dt ~ log-uniform in [DT_MIN, DT_MAX], floored.
DT_MIN = 1e-3
DT_MAX = 1e-1
DT_INIT_FLOOR = 1e-4


def auto_dt_rank(channels: int, expand: int) -> int:
    """Mamba's dt_rank = ceil(d_model / 16), with d_model = channels / expand for a scan of `channels` channels."""
    return max(1, math.ceil(channels / (16 * expand)))


def _at_least_fp32(x: torch.Tensor) -> torch.Tensor:
    """The state's decay and skip stay in fp32 even in a half-precision model (as Mamba keeps them)."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def _no_weight_decay(param: nn.Parameter) -> nn.Parameter:
    param._no_weight_decay = True  # read by the optimiser set-up: A_log and D are not decayed (Mamba)
    return param


class SelectiveSSM(nn.Module):
    """y = SSM(u), B, C, delta = f(source): Eq. 6 with source = u (SSM) or source = h_inter (MSSM, Sec. 4.4)."""

    def __init__(self, channels: int, *, d_state: int, dt_rank: int, directions: int = 1):
        super().__init__()
        if directions not in (1, 2) or channels % directions:
            raise ValueError(f"directions must be 1 or 2 and divide channels ({channels}), got {directions}")
        self.channels, self.d_state, self.dt_rank, self.directions = channels, d_state, dt_rank, directions
        # Eq. 6: B = Linear_N(x), C = Linear_N(x) (one pair per direction) and the low-rank Linear_1 of delta.
        self.x_proj = nn.Linear(channels, dt_rank + 2 * directions * d_state, bias=False)
        self.dt_proj = nn.Linear(dt_rank, channels, bias=False)
        # Eq. 6 prints delta = softplus(P + LayerNorm(Linear_1(x))); we implement exactly that (Mamba itself has
        # no LayerNorm here). P is the dt bias, passed to the scan as delta_bias.
        self.dt_norm = nn.LayerNorm(channels)
        self.dt_bias = nn.Parameter(torch.empty(channels))
        # S4D-real initialisation: A = -(1, 2, ..., N) for every channel, stored as log.
        A = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(channels, 1)  # (C, N)
        self.A_log = _no_weight_decay(nn.Parameter(torch.log(A)))
        self.D = _no_weight_decay(nn.Parameter(torch.ones(channels)))  # skip connection D = 1
        self.reset_dt()

    @torch.no_grad()
    def reset_dt(self):
        """Mamba's dt init: dt_proj uniform(+-rank^-0.5); P = softplus^-1(dt), dt log-uniform in [DT_MIN, DT_MAX]."""
        bound = self.dt_rank ** -0.5
        self.dt_proj.weight.uniform_(-bound, bound)
        dt = torch.exp(torch.rand(self.channels) * (math.log(DT_MAX) - math.log(DT_MIN)) + math.log(DT_MIN))
        dt = dt.clamp(min=DT_INIT_FLOOR)
        self.dt_bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse of softplus

    def forward(self, u: torch.Tensor, source: torch.Tensor | None = None) -> torch.Tensor:
        """u, source: (b, C, L) -> y (b, C, L). Positions where u is zero leave a zero state zero (masking)."""
        source = u if source is None else source
        b, _, length = u.shape
        n, dirs = self.d_state, self.directions
        # x_proj applied channel-first (W @ source): no transposed copy of the wide source, and B, C come out in
        # the scan's (b, N, L) layout.
        dbc = torch.matmul(self.x_proj.weight, source)                         # (b, R + 2 dirs N, L)
        dt, B, C = dbc.split([self.dt_rank, dirs * n, dirs * n], dim=1)
        delta = self.dt_norm(self.dt_proj(dt.transpose(1, 2))).transpose(1, 2)  # (b, C, L)  Eq. 6, before P
        B = B.unflatten(1, (dirs, n))                                           # (b, dirs, N, L)
        C = C.unflatten(1, (dirs, n))
        A = -torch.exp(_at_least_fp32(self.A_log))                             # (C, N)
        if dirs == 2:
            u, delta, B, C = (self._flip_back_half(x, dim=1) for x in (u, delta, B, C))
        else:
            B, C = B[:, 0], C[:, 0]                                            # (b, N, L): shared by all channels
        # Strided views go in as they are: each scan backend lays them out once for itself.
        y = selective_scan(u, delta, A, B, C, D=_at_least_fp32(self.D),
                           delta_bias=_at_least_fp32(self.dt_bias), delta_softplus=True)  # Eqs. 4-5
        return self._flip_back_half(y, dim=1) if dirs == 2 else y

    @staticmethod
    def _flip_back_half(x: torch.Tensor, *, dim: int) -> torch.Tensor:
        """Reverse the last axis (time) of the second half of `dim`: the backward direction's view."""
        forward, backward = x.chunk(2, dim=dim)
        return torch.cat([forward, backward.flip(-1)], dim=dim)
