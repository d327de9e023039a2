"""The blocks of one InterMamba layer: Self-ASTM (Eq. 10), LIIA (Eq. 11) and Cross-ASTM (Eqs. 12-13).

Both persons run through the same weights, stacked along the batch as [person a; person b] (2B rows). The other
person of row i is row (i + B) mod 2B, so every person-centric input (LIIA's concat, the cross block's h_inter)
is built in the order (self, other), and swapping the persons swaps the outputs.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .astm import ASTM, zero_padding

ADALN_EPS = 1e-6  # as InterGen's AdaLN
LIIA_KERNEL = 3   # the "3x3" conv of Eq. 11, over time


def swap_persons(x: torch.Tensor) -> torch.Tensor:
    """[a; b] -> [b; a] along the batch: each row's other person."""
    return torch.cat(x.chunk(2, dim=0)[::-1], dim=0)


class AdaLN(nn.Module):
    """LayerNorm modulated by the condition: LN(h) (1 + scale) + shift, scale/shift from a zero-init Linear."""

    def __init__(self, dim: int, cond_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=ADALN_EPS)
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(cond_dim, 2 * dim))
        nn.init.zeros_(self.modulation[1].weight)
        nn.init.zeros_(self.modulation[1].bias)

    def forward(self, h, cond):
        """h: (b, T, dim), cond: (b, cond_dim)."""
        scale, shift = self.modulation(cond)[:, None].chunk(2, dim=-1)            # (b, 1, dim) each
        return self.norm(h) * (1 + scale) + shift


class ASTMBlock(nn.Module):
    """Self-ASTM (Eq. 10) or, with `cross=True`, Cross-ASTM (Eq. 12): the same block around ASTM / ASTM_cross.

        h_bar = LayerNorm(h);  h_hat = ASTM(h_bar [, h_inter]);  q = SiLU(Linear(h_bar))
        out = h + Linear(h_hat * q)
    """

    def __init__(self, d_model: int, d_inner: int, *, dropout: float = 0.0, cross: bool = False, **astm):
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.astm = ASTM(d_model, d_inner, cross=cross, **astm)
        self.gate = nn.Linear(d_model, d_inner)                                     # q (sigma = SiLU)
        self.out_proj = nn.Linear(d_inner, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, h, mask=None, inter=None):
        """h: (b, T, D), mask (b, T), inter (b, T, D) for the cross block -> (b, T, D)."""
        h_bar = self.norm(h)
        h_hat = self.astm(h_bar, mask, inter)                                       # (b, T, d_inner)
        q = F.silu(self.gate(h_bar))
        return h + self.dropout(self.out_proj(h_hat * q))


class TimeConv(nn.Module):
    """A centred conv over time, channel-last, as ONE matmul: taps = x W (kernel outputs per channel), then
    out[t] = sum_j taps_j[t + j - kernel // 2] + bias. Same function and init as nn.Conv1d(padding=kernel // 2),
    several times faster on CPU (the conv kernels take a slow path at these widths)."""

    def __init__(self, in_dim: int, out_dim: int, kernel: int):
        super().__init__()
        if kernel % 2 == 0:
            raise ValueError(f"TimeConv needs an odd kernel (centred window), got {kernel}")
        self.kernel, self.out_dim = kernel, out_dim
        self.taps = nn.Linear(in_dim, kernel * out_dim, bias=False)                  # tap j at rows j*out..
        self.bias = nn.Parameter(torch.empty(out_dim))
        bound = (in_dim * kernel) ** -0.5                                            # nn.Conv1d's default init
        nn.init.uniform_(self.taps.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        """x: (b, T, in_dim) with padded frames already zero -> (b, T, out_dim)."""
        frames, half = x.shape[1], self.kernel // 2
        taps = self.taps(x).unflatten(-1, (self.kernel, self.out_dim))              # (b, T, kernel, out)
        out = taps[:, :, half] + self.bias
        for j in range(self.kernel):
            shift = j - half                                                         # tap j reads frame t + shift
            if shift < 0 and frames > -shift:
                out[:, -shift:] += taps[:, :shift, j]
            elif shift > 0 and frames > shift:
                out[:, :-shift] += taps[:, shift:, j]
        return out


class LIIA(nn.Module):
    """Local Interaction Information Aggregation (Eq. 11).

        h_ab = AdaLN(pair(h_a, h_b), cond);  h_inter = residual + conv_3(SiLU(conv_1(h_ab)))
    Two readings of Eq. 11 (config `liia_mode`):
    - "person": person-centric, pair = concat(h_self, h_other), residual = h_self; run once per person.
    - "pair": Eq. 11's single h_inter per pair, shared by both persons' Cross-ASTM; run once per pair (half the
      cost). To keep the model symmetric in the two persons (swapping them must swap the output), the concat is
      taken in a swap-invariant form, pair = concat(h_a + h_b, |h_a - h_b|) (same width, 2D), and the residual
      is the persons' mean.
    Choices where the paper is silent: a SiLU between the two convs, since two linear convs in a row collapse
    into one; the "3x3" conv runs over time (kernel 3, centred), so padded frames are zeroed before it. The 1x1
    conv is a per-frame Linear, and is written as one.
    """

    def __init__(self, d_model: int, d_hidden: int, cond_dim: int, *, dropout: float = 0.0, pair: bool = False):
        super().__init__()
        self.pair = pair
        self.norm = AdaLN(2 * d_model, cond_dim)
        self.conv1 = nn.Linear(2 * d_model, d_hidden)                                 # conv 1x1
        self.conv3 = TimeConv(d_hidden, d_model, LIIA_KERNEL)                         # conv 3 (over time)
        self.dropout = nn.Dropout(dropout)

    def forward(self, h_self, h_other, cond, mask=None):
        """h_self, h_other: (b, T, D); cond (b, cond_dim); mask (b, T) -> h_inter (b, T, D)."""
        if self.pair:
            h_ab, residual = torch.cat([h_self + h_other, (h_self - h_other).abs()], dim=-1), (h_self + h_other) / 2
        else:
            h_ab, residual = torch.cat([h_self, h_other], dim=-1), h_self
        y = F.silu(self.conv1(self.norm(h_ab, cond)))                                 # (b, T, hidden)
        y = self.conv3(zero_padding(y, None if mask is None else mask[..., None]))   # (b, T, D)
        return residual + self.dropout(y)


class InterMambaLayer(nn.Module):
    """One stacked layer: Self-ASTM -> LIIA -> Cross-ASTM on both persons (Fig. 4).

    Ablations (Table 5): without the cross block the layer is Self-ASTM only; without LIIA the cross block reads
    the other person's Self-ASTM features as h_inter (the interaction source InterGen's cross attention uses).
    """

    def __init__(self, d_model: int, d_inner: int, *, liia_hidden: int, cond_dim: int, dropout: float,
                 use_cross: bool = True, use_liia: bool = True, liia_mode: str = "person", **astm):
        super().__init__()
        if liia_mode not in ("person", "pair"):
            raise ValueError(f"liia_mode must be 'person' or 'pair', got {liia_mode!r}")
        self.self_block = ASTMBlock(d_model, d_inner, dropout=dropout, **astm)
        self.liia = (LIIA(d_model, liia_hidden, cond_dim, dropout=dropout, pair=liia_mode == "pair")
                     if use_cross and use_liia else None)
        self.cross_block = ASTMBlock(d_model, d_inner, dropout=dropout, cross=True, **astm) if use_cross else None

    def residual_projections(self) -> list[nn.Parameter]:
        """The weights that write into the residual stream (scaled at init, as Mamba's out_proj)."""
        weights = [self.self_block.out_proj.weight]
        if self.cross_block is not None:
            weights.append(self.cross_block.out_proj.weight)
        if self.liia is not None:
            weights.append(self.liia.conv3.taps.weight)
        return weights

    def forward(self, h, cond, mask=None):
        """h: (2B, T, D) persons stacked; cond (2B, cond_dim); mask (2B, T) -> (2B, T, D)."""
        h = self.self_block(h, mask)                                                 # Eq. 10: h^S
        if self.cross_block is None:
            return h
        other = swap_persons(h)
        if self.liia is None:
            inter = other
        elif self.liia.pair:      # one h_inter per pair (rows [a; b]): computed on the a-rows, shared by the
            half = h.shape[0] // 2  # cross block, which projects it once for both persons
            inter = self.liia(h[:half], other[:half], cond[:half], None if mask is None else mask[:half])  # Eq. 11
        else:
            inter = self.liia(h, other, cond, mask)                                  # Eq. 11, per person
        return self.cross_block(h, mask, inter)                                      # Eqs. 12-13

    def fusion_weights(self) -> dict[str, float]:
        weights = self.self_block.astm.fusion_weights()
        if self.cross_block is not None:
            weights.update(self.cross_block.astm.fusion_weights())
        return weights
