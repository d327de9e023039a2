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
LIIA_KERNEL = 3   # the "3x3" conv of Eq. 11
NUM_PERSON_CHANNELS = 2   # LIIA's image: one channel per person (concat of Eq. 11)


def swap_persons(x: torch.Tensor) -> torch.Tensor:
    """[a; b] -> [b; a] along the batch: each row's other person."""
    return torch.cat(x.chunk(2, dim=0)[::-1], dim=0)


def zero_modulation(cond_dim: int, features: int) -> nn.Sequential:
    """cond (b, cond_dim) -> (b, 2 * features): SiLU then a zero-init Linear, so that scale = shift = 0 at first."""
    modulation = nn.Sequential(nn.SiLU(), nn.Linear(cond_dim, 2 * features))
    nn.init.zeros_(modulation[1].weight)
    nn.init.zeros_(modulation[1].bias)
    return modulation


class AdaLN(nn.Module):
    """LayerNorm modulated by the condition: LN(h) (1 + scale) + shift, scale/shift from a zero-init Linear
    (so it starts as a plain LayerNorm); one (scale, shift) pair per feature of h (b, T, dim)."""

    def __init__(self, dim: int, cond_dim: int, *, modulated: int = 0):
        super().__init__()
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=ADALN_EPS)
        self.modulation = zero_modulation(cond_dim, modulated or dim)

    def scale_shift(self, cond):
        return self.modulation(cond)[:, None].chunk(2, dim=-1)                     # (b, 1, dim) each

    def forward(self, h, cond):
        """h: (b, T, dim), cond: (b, cond_dim)."""
        scale, shift = self.scale_shift(cond)
        return self.norm(h) * (1 + scale) + shift


class ChannelAdaLN(AdaLN):
    """AdaLN for a (b, channels, T, D) map: LayerNorm over D, then one (scale, shift) pair per channel, as conv
    nets modulate per channel (AdaGN)."""

    def __init__(self, channels: int, dim: int, cond_dim: int):
        super().__init__(dim, cond_dim, modulated=channels)

    def scale_shift(self, cond):
        return self.modulation(cond)[:, :, None, None].chunk(2, dim=1)             # (b, channels, 1, 1) each


class ASTMBlock(nn.Module):
    """Self-ASTM (Eq. 10) or, with `cross=True`, Cross-ASTM (Eq. 12): the same block around ASTM / ASTM_cross.

        h_bar = LayerNorm(h);  h_hat = ASTM(h_bar [, h_inter]);  q = SiLU(Linear(h_bar))
        out = h + Linear(h_hat * q)

    With `cond_dim` (model.block_condition, ours) the condition modulates h_bar, as InterGen's and DiT's AdaLN
    blocks do: h_bar = LayerNorm(h) (1 + scale) + shift, from a zero-init Linear, so it starts as the paper's
    block and a paper model's weights load into it.
    """

    def __init__(self, d_model: int, d_inner: int, *, dropout: float = 0.0, cross: bool = False,
                 cond_dim: int = 0, **astm):
        super().__init__()
        self.norm = nn.LayerNorm(d_model)
        self.modulation = zero_modulation(cond_dim, d_model) if cond_dim else None
        self.astm = ASTM(d_model, d_inner, cross=cross, **astm)
        self.gate = nn.Linear(d_model, d_inner)                                     # q (sigma = SiLU)
        self.out_proj = nn.Linear(d_inner, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, h, mask=None, inter=None, cond=None):
        """h: (b, T, D), mask (b, T), inter (b, T, D) for the cross block, cond (b, cond_dim) -> (b, T, D)."""
        h_bar = self.norm(h)                                                        # (b, T, D)
        if self.modulation is not None:
            scale, shift = self.modulation(cond)[:, None].chunk(2, dim=-1)          # (b, 1, D) each
            h_bar = h_bar * (1 + scale) + shift
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
    """Local Interaction Information Aggregation (Eq. 11, Fig. 6).

        h_ab = concat(h_a^S, h_b^S);  h_ab = AdaLN(h_ab, cond);  h_inter = conv_3x3(conv_1x1(h_ab)) (+ residual)

    Two layouts of the same equation (config `liia_conv`):
    - "2d" (default, the paper's reading): h_ab is a two-channel image over (frames x features), one channel per
      person; conv_1x1 and conv_3x3 are 2D convolutions over that image, as their kernel names say, and h_inter
      is the one-channel result, (b, T, D) as Sec. 4.4 states. AdaLN normalises each person's features per frame
      and modulates each channel from the condition (AdaGN-style scale and shift per channel). This is the only
      reading in which LIIA adds almost no weights, as Table 5 reports (117M with and without LIIA): with the
      features as conv channels, the AdaLN modulation alone (cond -> scale and shift for 2D features) would cost
      4D^2 weights (9.4M at D = 1536).
    - "1d": the features are the conv channels and the convs run over time (conv_1x1 a per-frame Linear 2D ->
      hidden, conv_3 over frames); much heavier (the shipped demo model of turn 1 uses it).
    Pairing (config `liia_mode`):
    - "person" (default): for each person, h_ab = concat(h_self, h_other), residual h_self: Eq. 11 as printed
      evaluated from each person's side, so swapping the persons swaps the output.
    - "pair" (ours): one h_inter per pair shared by both persons' Cross-ASTM, from the swap-invariant
      concat(h_a + h_b, |h_a - h_b|) with the persons' mean as residual; half the cost.
    Where the paper is silent: the residual (Sec. 4.3 names one, Eq. 11 omits it) adds the person's own features,
    so that h_inter starts as h^S and the MSSM sees the partner through the convs; a SiLU separates the two convs
    (two linear convs in a row collapse into one); padded frames are zeroed before the conv that mixes frames.
    """

    def __init__(self, d_model: int, cond_dim: int, *, conv: str = "2d", channels: int = 16, hidden: int = 0,
                 dropout: float = 0.0, pair: bool = False):
        super().__init__()
        if conv not in ("2d", "1d"):
            raise ValueError(f"liia_conv must be '2d' or '1d', got {conv!r}")
        self.pair, self.conv = pair, conv
        if conv == "2d":
            self.norm = ChannelAdaLN(NUM_PERSON_CHANNELS, d_model, cond_dim)
            self.conv1 = nn.Conv2d(NUM_PERSON_CHANNELS, channels, kernel_size=1)        # conv 1x1
            self.conv3 = nn.Conv2d(channels, 1, kernel_size=LIIA_KERNEL, padding=LIIA_KERNEL // 2)  # conv 3x3
        else:
            self.norm = AdaLN(2 * d_model, cond_dim)
            self.conv1 = nn.Linear(2 * d_model, hidden)                                  # conv 1x1
            self.conv3 = TimeConv(hidden, d_model, LIIA_KERNEL)                          # conv 3 (over time)
        self.dropout = nn.Dropout(dropout)

    def residual_weight(self) -> torch.Tensor:
        """The weight that writes into h_inter (scaled at init with the other residual writes)."""
        return self.conv3.weight if self.conv == "2d" else self.conv3.taps.weight

    def forward(self, h_self, h_other, cond, mask=None):
        """h_self, h_other: (b, T, D); cond (b, cond_dim); mask (b, T) -> h_inter (b, T, D)."""
        if self.pair:
            first, second, residual = h_self + h_other, (h_self - h_other).abs(), (h_self + h_other) / 2
        else:
            first, second, residual = h_self, h_other, h_self
        frame_mask = None if mask is None else mask[..., None]                          # (b, T, 1)
        if self.conv == "2d":
            h_ab = torch.stack([first, second], dim=1)                                   # (b, 2, T, D)
            y = F.silu(self.conv1(self.norm(h_ab, cond)))                                # (b, C, T, D)
            if frame_mask is not None:
                y = y.masked_fill(~frame_mask[:, None], 0.0)     # the 3x3 window reaches the next frame
            y = self.conv3(y)[:, 0]                                                      # (b, T, D)
        else:
            h_ab = torch.cat([first, second], dim=-1)                                    # (b, T, 2D)
            y = F.silu(self.conv1(self.norm(h_ab, cond)))                                # (b, T, hidden)
            y = self.conv3(zero_padding(y, frame_mask))                                  # (b, T, D)
        return residual + self.dropout(y)


class InterMambaLayer(nn.Module):
    """One stacked layer: Self-ASTM -> LIIA -> Cross-ASTM on both persons (Fig. 4).

    Ablations (Table 5): without the cross block the layer is Self-ASTM only; without LIIA the cross block reads
    the other person's Self-ASTM features as h_inter (the interaction source InterGen's cross attention uses).
    """

    def __init__(self, d_model: int, d_inner: int, *, cond_dim: int, dropout: float, use_cross: bool = True,
                 use_liia: bool = True, liia_mode: str = "person", liia_conv: str = "2d", liia_channels: int = 16,
                 liia_hidden: int = 0, block_condition: bool = False, **astm):
        super().__init__()
        if liia_mode not in ("person", "pair"):
            raise ValueError(f"liia_mode must be 'person' or 'pair', got {liia_mode!r}")
        block_cond = cond_dim if block_condition else 0
        self.self_block = ASTMBlock(d_model, d_inner, dropout=dropout, cond_dim=block_cond, **astm)
        self.liia = (LIIA(d_model, cond_dim, conv=liia_conv, channels=liia_channels, hidden=liia_hidden,
                          dropout=dropout, pair=liia_mode == "pair")
                     if use_cross and use_liia else None)
        self.cross_block = (ASTMBlock(d_model, d_inner, dropout=dropout, cross=True, cond_dim=block_cond, **astm)
                            if use_cross else None)

    def residual_projections(self) -> list[nn.Parameter]:
        """The weights that write into the residual stream (scaled at init, as Mamba's out_proj)."""
        weights = [self.self_block.out_proj.weight]
        if self.cross_block is not None:
            weights.append(self.cross_block.out_proj.weight)
        if self.liia is not None:
            weights.append(self.liia.residual_weight())
        return weights

    def forward(self, h, cond, mask=None):
        """h: (2B, T, D) persons stacked; cond (2B, cond_dim); mask (2B, T) -> (2B, T, D)."""
        h = self.self_block(h, mask, cond=cond)                                      # Eq. 10: h^S
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
        return self.cross_block(h, mask, inter, cond)                                # Eqs. 12-13

    def fusion_weights(self) -> dict[str, float]:
        weights = self.self_block.astm.fusion_weights()
        if self.cross_block is not None:
            weights.update(self.cross_block.astm.fusion_weights())
        return weights
