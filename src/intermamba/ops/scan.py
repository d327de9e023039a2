"""Selective scan with mamba-ssm's `selective_scan_fn` signature (reference/selective-scan-facts.md).

Layout is channel-first, as in mamba-ssm:
    u, delta, z: (B, D, L)     A: (D, N)     D, delta_bias: (D,)
    B, C: (D, N) time-invariant | (B, N, L) input-dependent | (B, G, N, L) grouped (D divisible by G)
Recurrence (paper Eqs. 4-5 with Mamba's simplified B discretisation):
    Abar_t = exp(delta_t A);  h_t = Abar_t h_{t-1} + delta_t B_t u_t;  y_t = C_t h_t + D u_t;  y *= silu(z)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _expand_bc(X: torch.Tensor, batch: int, dim: int, length: int) -> torch.Tensor:
    """Bring B or C to (batch, dim, N, L) (a broadcast view, no copy)."""
    if X.dim() == 2:  # (D, N) time-invariant
        return X[None, :, :, None].expand(batch, dim, X.shape[1], length)
    if X.dim() == 3:  # (B, N, L) shared by all channels
        return X[:, None].expand(batch, dim, X.shape[1], length)
    if X.dim() == 4:  # (B, G, N, L) grouped: channel d uses group d // (D / G)
        groups = X.shape[1]
        return X.repeat_interleave(dim // groups, dim=1)
    raise ValueError(f"B/C must have 2, 3 or 4 dims, got shape {tuple(X.shape)}")


def selective_scan_ref(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                       return_last_state=False):
    """Plain, readable reference: the test oracle for every fast path. Computes in fp32 (or fp64 if given)."""
    dtype_in = u.dtype
    compute = torch.float64 if u.dtype == torch.float64 else torch.float32
    u, delta, A = u.to(compute), delta.to(compute), A.to(compute)
    batch, dim, length = u.shape
    if delta_bias is not None:
        delta = delta + delta_bias.to(compute)[None, :, None]
    if delta_softplus:
        delta = F.softplus(delta)
    Bx = _expand_bc(B.to(compute), batch, dim, length)            # (B, D, N, L)
    Cx = _expand_bc(C.to(compute), batch, dim, length)            # (B, D, N, L)
    deltaA = torch.exp(delta[:, :, None, :] * A[None, :, :, None])  # (B, D, N, L)  Abar (Eq. 5)
    deltaBu = delta[:, :, None, :] * Bx * u[:, :, None, :]           # (B, D, N, L)  Bbar u
    h = u.new_zeros(batch, dim, A.shape[1])
    ys = []
    for t in range(length):
        h = deltaA[..., t] * h + deltaBu[..., t]                     # Eq. 4
        ys.append((h * Cx[..., t]).sum(-1))                          # (B, D)
    y = torch.stack(ys, dim=-1)                                      # (B, D, L)
    if D is not None:
        y = y + u * D.to(compute)[None, :, None]
    if z is not None:
        y = y * F.silu(z.to(compute))
    y = y.to(dtype_in)
    return (y, h) if return_last_state else y


def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                   return_last_state=False):
    """Dispatching entry point (fast paths are added beside the reference; all share this signature)."""
    return selective_scan_ref(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state)
