"""Selective scan with mamba-ssm's `selective_scan_fn` signature (reference/selective-scan-facts.md).

Layout is channel-first, as in mamba-ssm:
    u, delta, z: (B, D, L)     A: (D, N)     D, delta_bias: (D,)
    B, C: (D, N) time-invariant | (B, N, L) input-dependent | (B, G, N, L) grouped (D divisible by G)
Recurrence (paper Eqs. 4-5 with Mamba's simplified B discretisation):
    Abar_t = exp(delta_t A);  h_t = Abar_t h_{t-1} + delta_t B_t u_t;  y_t = C_t h_t + D u_t;  y *= silu(z)

Three backends share that signature:
    "ref"        `selective_scan_ref`: plain and readable, the test oracle.
    "fused"      `_FusedScan`: a custom autograd function that discretises per step (nothing of size
                 (B, D, N, L) exists but the saved states) and runs a hand-written reverse-time backward.
                 The fastest pure-PyTorch form (2-4x over the alternatives in the facts file); any device.
    "native"     a compiled C++ CPU kernel (ops/scan_native.py), built ahead of time (`intermamba build-kernels`);
                 2-4x faster than "fused" and saves no states (its backward recomputes them row by row).
    "triton"     a Triton GPU kernel (ops/scan_triton.py): one launch per scan, states in registers, chunked
                 recomputation in the backward. Needs the `triton` package (CUDA builds of PyTorch ship it).
    "mamba_ssm"  mamba-ssm's CUDA kernel, used when the optional package imports and tensors are on CUDA.
`selective_scan(..., backend=None)` picks on CUDA "mamba_ssm" when it imports, else "triton" when it imports (fp64
goes to "fused"); on CPU "native" when it is built, else "fused". A backend can be forced per call (`backend=`) or
for a block of code (`with scan_backend("ref"):`).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
from typing import NamedTuple

import torch
import torch.nn.functional as F

from .scan_native import native_module, native_status

BACKENDS = ("auto", "ref", "fused", "native", "triton", "mamba_ssm")

# Without saved states (inference) the fused forward still walks time in chunks of this many steps and
# contracts each chunk of states with C in one batched product: memory O(chunk), few large kernels.
INFERENCE_CHUNK = 64

# The backend forced by `scan_backend` (process-wide). A plain global rather than a ContextVar: torch.compile
# reads (and guards on) a module global, but cannot trace ContextVar.get.
_forced_backend = "auto"


# ----------------------------------------------------------------------------------------- validation
def _check_inputs(u, delta, A, B, C, D, z, delta_bias) -> None:
    """Raise one clear ValueError for any shape mamba-ssm would reject."""
    if u.dim() != 3:
        raise ValueError(f"u must be (batch, channels, L), got shape {tuple(u.shape)}")
    batch, dim, length = u.shape
    if length == 0:
        raise ValueError("u has zero length along L: nothing to scan")
    if delta.shape != u.shape:
        raise ValueError(f"delta must have u's shape {tuple(u.shape)}, got {tuple(delta.shape)}")
    if z is not None and z.shape != u.shape:
        raise ValueError(f"z must have u's shape {tuple(u.shape)}, got {tuple(z.shape)}")
    if A.dim() != 2 or A.shape[0] != dim:
        raise ValueError(f"A must be (channels={dim}, d_state), got shape {tuple(A.shape)}")
    if A.is_complex():
        raise ValueError("complex A is not supported: pass a real A (Mamba uses A = -exp(A_log))")
    d_state = A.shape[1]
    for name, vec in (("D", D), ("delta_bias", delta_bias)):
        if vec is not None and tuple(vec.shape) != (dim,):
            raise ValueError(f"{name} must be (channels={dim},), got shape {tuple(vec.shape)}")
    for name, X in (("B", B), ("C", C)):
        if X.dim() == 2:
            ok = tuple(X.shape) == (dim, d_state)
        elif X.dim() == 3:
            ok = tuple(X.shape) == (batch, d_state, length)
        elif X.dim() == 4:
            ok = X.shape[0] == batch and X.shape[2:] == (d_state, length) and X.shape[1] > 0
            if ok and dim % X.shape[1] != 0:
                raise ValueError(f"{name} has {X.shape[1]} groups, which must divide channels={dim}")
        else:
            ok = False
        if not ok:
            raise ValueError(
                f"{name} must be (channels, d_state)=({dim}, {d_state}), (batch, d_state, L)=({batch}, {d_state}, "
                f"{length}) or (batch, groups, d_state, L), got shape {tuple(X.shape)}")


def _compute_dtype(u: torch.Tensor) -> torch.dtype:
    """Scan in fp64 when given fp64, else fp32 (half-precision inputs are upcast, as mamba-ssm does)."""
    return torch.float64 if u.dtype == torch.float64 else torch.float32


# ----------------------------------------------------------------------------------------- reference
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
    compute = _compute_dtype(u)
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


# ----------------------------------------------------------------------------------------- fused path
class _BC(NamedTuple):
    """B or C brought to a time-first layout that broadcasts against the state viewed as (B, G, D/G, N)."""
    steps: torch.Tensor  # varying: (L, B, G, 1, N) contiguous; time-invariant: (1, D, N)
    groups: int          # G (1 when time-invariant or (B, N, L))
    varying: bool


def _to_time_first(X: torch.Tensor) -> _BC:
    if X.dim() == 2:                                  # (D, N)
        return _BC(X[None], 1, False)
    if X.dim() == 3:                                  # (B, N, L) -> one group
        X = X[:, None]
    return _BC(X.permute(3, 0, 1, 2).unsqueeze(3).contiguous(), X.shape[1], True)  # (L, B, G, 1, N)


def _from_time_first(grad: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Undo `_to_time_first` for a gradient: (L, B, G, 1, N) or (D, N) back to `like`'s shape."""
    if like.dim() == 2:
        return grad
    grad = grad.squeeze(3).permute(1, 2, 3, 0)        # (B, G, N, L)
    return grad.squeeze(1) if like.dim() == 3 else grad


def _group_view(x: torch.Tensor, groups: int) -> torch.Tensor:
    """View the channel axis (dim -2 of (..., D, N or 1)) as (G, D/G)."""
    *lead, dim, last = x.shape
    return x.view(*lead, groups, dim // groups, last)


def _contract(states: torch.Tensor, X: _BC, start: int, stop: int) -> torch.Tensor:
    """sum_n states[..., n] X_t[n] for steps start..stop: (T, B, D, N) -> (T, B, D). The y = C h of Eq. 4."""
    if not X.varying:  # a product + sum beats einsum here: einsum would copy a permuted (T, B, D, N)
        return (states * X.steps[0]).sum(-1)
    T, batch, dim, d_state = states.shape
    grouped = _group_view(states, X.groups)                              # (T, B, G, D/G, N)
    out = torch.matmul(grouped, X.steps[start:stop].transpose(-1, -2))  # (T, B, G, D/G, 1)
    return out.view(T, batch, dim)


def _scan_states(delta_tf, deltau_tf, A, Bp: _BC, states: torch.Tensor, start: int, h_prev):
    """Run the recurrence (Eqs. 4-5) for steps start..start+len(states), writing h_t into `states` in place.

    delta_tf, deltau_tf: (L, B, D, 1); states: (T, B, D, N) buffer; h_prev: (B, D, N) or None (= zeros).
    The buffer first receives every Abar_t in one vectorised exp, so each step is two in-place kernels.
    """
    stop = start + states.shape[0]
    torch.mul(delta_tf[start:stop], A, out=states).exp_()                 # Abar_t = exp(delta_t A)  (Eq. 5)
    # Grouped views made once: step t reads (B, G, D/G, N) states, (B, G, D/G, 1) delta u, (B, G, 1, N) B_t.
    hs = _group_view(states, Bp.groups).unbind(0)
    deltaus = _group_view(deltau_tf[start:stop], Bp.groups).unbind(0)
    Bs = Bp.steps[start:stop].unbind(0) if Bp.varying else [Bp.steps] * len(hs)
    if h_prev is not None:
        h_prev = _group_view(h_prev, Bp.groups)
    for h, deltau_t, B_t in zip(hs, deltaus, Bs):
        if h_prev is None:
            h.zero_()
        else:
            h.mul_(h_prev)                                                 # Abar_t h_{t-1}
        h.addcmul_(deltau_t, B_t)                                          # + delta_t B_t u_t  (Eq. 4)
        h_prev = h


class _Prepared(NamedTuple):
    delta_tf: torch.Tensor   # (L, B, D, 1)
    deltau_tf: torch.Tensor  # (L, B, D, 1)
    Bp: _BC
    Cp: _BC


def _prepare(u, delta, B, C) -> _Prepared:
    delta_tf = delta.permute(2, 0, 1).unsqueeze(-1).contiguous()                # (L, B, D, 1)
    deltau_tf = (delta * u).permute(2, 0, 1).unsqueeze(-1).contiguous()         # (L, B, D, 1)
    return _Prepared(delta_tf, deltau_tf, _to_time_first(B), _to_time_first(C))


def _fused_forward(u, delta, A, B, C, *, save_states: bool):
    """y (B, D, L) without the D/z terms, the last state (B, D, N), and all states (L, B, D, N) if asked."""
    batch, dim, length = u.shape
    p = _prepare(u, delta, B, C)
    chunk = length if save_states else min(length, INFERENCE_CHUNK)
    states = u.new_empty(chunk, batch, dim, A.shape[1])                    # (T, B, D, N)
    y = u.new_empty(length, batch, dim)                                    # (L, B, D)
    h_prev = None
    for start in range(0, length, chunk):
        stop = min(start + chunk, length)
        block = states[: stop - start]
        _scan_states(p.delta_tf, p.deltau_tf, A, p.Bp, block, start, h_prev)
        y[start:stop] = _contract(block, p.Cp, start, stop)               # y_t = C_t h_t
        h_prev = block[-1].clone()  # the next block overwrites the buffer
    last = h_prev
    return y.permute(1, 2, 0), last, (states if save_states else None), p


class _FusedScan(torch.autograd.Function):
    """Core recurrence with a hand-written backward; D, z, delta_bias and softplus are applied around it."""

    @staticmethod
    def forward(ctx, u, delta, A, B, C):
        y, last, states, p = _fused_forward(u, delta, A, B, C, save_states=True)
        ctx.save_for_backward(u, delta, A, B, C, states)
        ctx.prepared = p
        return y, last

    @staticmethod
    def backward(ctx, grad_y, grad_last):
        u, delta, A, B, C, states = ctx.saved_tensors
        p: _Prepared = ctx.prepared
        length = states.shape[0]
        gy_tf = grad_y.permute(2, 0, 1).unsqueeze(-1).contiguous()          # (L, B, D, 1)
        # dLoss/dh_t, walked in reverse time: g_t = C_t gy_t + Abar_{t+1} g_{t+1}  (+ grad of the last state)
        # G first holds Abar_{t+1} at slot t (one vectorised exp), then each step turns it into g_t in place.
        G = torch.empty_like(states)                                        # (L, B, D, N)
        torch.mul(p.delta_tf[1:], A, out=G[:-1]).exp_()
        if grad_last is None:
            G[-1].zero_()
        else:
            G[-1].copy_(grad_last)
        gs = _group_view(G, p.Cp.groups).unbind(0)                         # (B, G, D/G, N) views
        gys = _group_view(gy_tf, p.Cp.groups).unbind(0)                    # (B, G, D/G, 1)
        Cs = p.Cp.steps.unbind(0) if p.Cp.varying else [p.Cp.steps] * length
        for t in range(length - 1, -1, -1):
            if t < length - 1:
                gs[t].mul_(gs[t + 1])                                       # Abar_{t+1} g_{t+1}
            gs[t].addcmul_(gys[t], Cs[t])                                   # + C_t gy_t

        need_u, need_delta, need_A, need_B, need_C = ctx.needs_input_grad
        grad_u = grad_delta = grad_A = grad_B = grad_C = None
        if need_C:                                                          # dC_t = sum_channels gy_t h_t
            grad_C = _reduce_channels(states, gy_tf, p.Cp)
            grad_C = _from_time_first(grad_C, C)
        if need_B:                                                          # dB_t = sum_channels g_t delta_t u_t
            grad_B = _from_time_first(_reduce_channels(G, p.deltau_tf, p.Bp), B)
        if need_u or need_delta or need_A:
            d_deltau = _contract(G, p.Bp, 0, length)                        # (L, B, D)  sum_n g_t B_t
            # Abar path: gdA_t = g_t * Abar_t * h_{t-1} (zero at t = 0, where h_{-1} = 0)
            gdA = torch.mul(p.delta_tf[1:], A).exp_().mul_(states[:-1]).mul_(G[1:])  # (L-1, B, D, N)
            if need_u:
                grad_u = (d_deltau * p.delta_tf[..., 0]).permute(1, 2, 0)
            if need_A:                                                      # dA = sum_{t,b} gdA_t delta_t
                grad_A = (gdA * p.delta_tf[1:]).sum((0, 1))
            if need_delta:                                                  # d delta_t = d(delta u)_t u_t + sum_n gdA_t A
                d_delta = d_deltau * u.permute(2, 0, 1)                     # (L, B, D)
                d_delta[1:] += gdA.mul_(A).sum(-1)
                grad_delta = d_delta.permute(1, 2, 0)
        return grad_u, grad_delta, grad_A, grad_B, grad_C


def _reduce_channels(X: torch.Tensor, w: torch.Tensor, spec: _BC) -> torch.Tensor:
    """sum over channels of X * w: X (L, B, D, N), w (L, B, D, 1) -> (L, B, G, 1, N) or (D, N) if time-invariant."""
    if not spec.varying:
        return (X * w).sum((0, 1))
    Xg = _group_view(X, spec.groups)                                        # (L, B, G, D/G, N)
    wg = _group_view(w, spec.groups)                                        # (L, B, G, D/G, 1)
    return torch.matmul(wg.transpose(-1, -2), Xg)                           # (L, B, G, 1, N)


def _scan_with(core, u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state):
    """Shared pre/post-processing of the fast paths around `core(u, delta, A, B, C) -> (y, last_state)`:
    compute dtype, delta bias and softplus before, the D skip and the silu(z) gate after (autograd handles them)."""
    dtype_in = u.dtype
    compute = _compute_dtype(u)
    u, delta, A, B, C = (x.to(compute) for x in (u, delta, A, B, C))
    if delta_bias is not None:
        delta = delta + delta_bias.to(compute)[None, :, None]
    if delta_softplus:
        delta = F.softplus(delta)
    y, last = core(u, delta, A, B, C)
    if D is not None:
        y = y + u * D.to(compute)[None, :, None]
    if z is not None:
        y = y * F.silu(z.to(compute))
    y = y.to(dtype_in)
    return (y, last) if return_last_state else y


def _fused_core(u, delta, A, B, C):
    if torch.is_grad_enabled() and any(x.requires_grad for x in (u, delta, A, B, C)):
        return _FusedScan.apply(u, delta, A, B, C)
    y, last, _, _ = _fused_forward(u, delta, A, B, C, save_states=False)   # inference: no states kept
    return y, last


def selective_scan_fused(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                         return_last_state=False):
    """The fused pure-PyTorch path (any device). Saves states only when autograd needs them."""
    return _scan_with(_fused_core, u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state)


# ----------------------------------------------------------------------------------------- compiled kernels
def _bc_kernel_layout(X: torch.Tensor) -> tuple[torch.Tensor, int]:
    """B or C for the compiled kernels (native and Triton): (D, N) as is, varying ones time-major (B, G, L, N),
    the state innermost; and G. Plain tensor ops, so autograd carries the kernel-layout gradient back to the
    caller's layout."""
    if X.dim() == 2:
        return X.contiguous(), 1
    if X.dim() == 3:
        X = X[:, None]
    return X.transpose(-1, -2).contiguous(), X.shape[1]


# The kernel as torch custom ops with fake (shape-only) implementations, so that torch.compile traces a model
# through the scan instead of breaking its graph at an opaque extension call. The ops save inputs only, never states.
@torch.library.custom_op("intermamba::native_scan_forward", mutates_args=())
def _native_forward(u: torch.Tensor, delta: torch.Tensor, bias: torch.Tensor, softplus: bool, A: torch.Tensor,
                    B: torch.Tensor, C: torch.Tensor, groups_b: int,
                    groups_c: int) -> tuple[torch.Tensor, torch.Tensor]:
    """y = C h (B, D, L), without the D skip and the gate, and the last state (B, D, N). delta_bias and softplus
    are applied inside the kernel (softplus is costly as a separate pass on CPU); `bias` is empty for none."""
    y, last = native_module().scan_forward(u, delta, bias, softplus, A, B, C, groups_b, groups_c)
    return y, last


@_native_forward.register_fake
def _(u, delta, bias, softplus, A, B, C, groups_b, groups_c):
    return torch.empty_like(u), u.new_empty(u.shape[0], u.shape[1], A.shape[1])


@torch.library.custom_op("intermamba::native_scan_backward", mutates_args=())
def _native_backward(u: torch.Tensor, delta: torch.Tensor, bias: torch.Tensor, softplus: bool, A: torch.Tensor,
                     B: torch.Tensor, C: torch.Tensor, grad_y: torch.Tensor, grad_last: torch.Tensor,
                     groups_b: int, groups_c: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor,
                                                            torch.Tensor]:
    """Gradients of u, the raw delta (before bias and softplus), A, and B, C in the kernel's layout."""
    grads = native_module().scan_backward(u, delta, bias, softplus, A, B, C, grad_y, grad_last, groups_b, groups_c)
    return tuple(grads)


@_native_backward.register_fake
def _(u, delta, bias, softplus, A, B, C, grad_y, grad_last, groups_b, groups_c):
    return torch.empty_like(u), torch.empty_like(delta), torch.empty_like(A), torch.empty_like(B), torch.empty_like(C)


def _native_setup(ctx, inputs, output):
    u, delta, bias, softplus, A, B, C, groups_b, groups_c = inputs
    ctx.save_for_backward(u, delta, bias, A, B, C)
    ctx.settings = (softplus, groups_b, groups_c)


def _native_grad(ctx, grad_y, grad_last):
    u, delta, bias, A, B, C = ctx.saved_tensors
    softplus, groups_b, groups_c = ctx.settings
    du, ddelta, dA, dB, dC = _native_backward(u, delta, bias, softplus, A, B, C, grad_y.contiguous(),
                                              grad_last.contiguous(), groups_b, groups_c)
    dbias = ddelta.sum((0, 2)) if bias.numel() else None              # the bias's gradient: ddelta over (B, L)
    return du, ddelta, dbias, None, dA, dB, dC, None, None


_native_forward.register_autograd(_native_grad, setup_context=_native_setup)


def native_available() -> bool:
    """True when the compiled CPU scan is built for this machine and loads (never builds: `intermamba build-kernels`).
    When it is not, says so once per process on stderr."""
    return native_module() is not None


def selective_scan_native(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                          return_last_state=False):
    """The compiled CPU kernel, with the same pre/post-processing as the fused path."""
    if native_status().module is None:
        raise RuntimeError(f"scan backend 'native' is unavailable: {native_status().reason}; or use backend='fused'")
    if u.device.type != "cpu":
        raise RuntimeError(f"scan backend 'native' runs on CPU tensors, got {u.device}; use backend='fused'")
    def core(u, delta, A, B, C):  # bias and softplus go into the kernel
        bias = u.new_empty(0) if delta_bias is None else delta_bias.to(u.dtype).contiguous()
        (Bn, groups_b), (Cn, groups_c) = _bc_kernel_layout(B), _bc_kernel_layout(C)
        return _native_forward(u.contiguous(), delta.contiguous(), bias, bool(delta_softplus), A.contiguous(),
                               Bn, Cn, groups_b, groups_c)

    return _scan_with(core, u, delta, A, B, C, D, z, None, False, return_last_state)


# ----------------------------------------------------------------------------------------- Triton (GPU)
def triton_interpreting() -> bool:
    """True under Triton's interpreter (TRITON_INTERPRET=1): the kernels then run on CPU tensors (slowly)."""
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


@functools.cache
def triton_available() -> bool:
    """True when the `triton` package imports (the kernels compile on first use per shape class); tried once."""
    try:
        importlib.import_module("triton")
    except Exception:  # ImportError, or a triton whose driver fails to load
        return False
    return True


def selective_scan_triton(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                          return_last_state=False):
    """The Triton kernel, with the same pre/post-processing as the native path (bias and softplus in-kernel)."""
    if not triton_available():
        raise RuntimeError("scan backend 'triton' needs the triton package (CUDA builds of PyTorch ship it); "
                           "use backend='fused'")
    if not (u.is_cuda or triton_interpreting()):
        raise RuntimeError(f"scan backend 'triton' runs on CUDA tensors, got {u.device} (set TRITON_INTERPRET=1 "
                           "to run it through Triton's interpreter on CPU); use backend='fused'")
    from .scan_triton import TritonScan   # imported on first use: triton is optional

    def core(u, delta, A, B, C):  # bias and softplus go into the kernel
        bias = None if delta_bias is None else delta_bias.to(u.dtype)
        (Bk, _), (Ck, _) = _bc_kernel_layout(B), _bc_kernel_layout(C)
        return TritonScan.apply(u, delta, A, Bk, Ck, bias, delta_softplus)

    return _scan_with(core, u, delta, A, B, C, D, z, None, False, return_last_state)


# ----------------------------------------------------------------------------------------- mamba-ssm
_MAMBA_SSM_FN = None
_MAMBA_SSM_TRIED = False


def mamba_ssm_available() -> bool:
    """True when mamba-ssm's CUDA kernel imports (the optional `cuda` extra); tried once per process."""
    global _MAMBA_SSM_FN, _MAMBA_SSM_TRIED
    if not _MAMBA_SSM_TRIED:
        _MAMBA_SSM_TRIED = True
        try:
            from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
        except Exception:  # ImportError, or its compiled extension failing to load (no CUDA, ABI mismatch)
            selective_scan_fn = None
        _MAMBA_SSM_FN = selective_scan_fn
    return _MAMBA_SSM_FN is not None


def selective_scan_mamba_ssm(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                             return_last_state=False):
    """mamba-ssm's fused CUDA kernel. Its weights (A, D, delta_bias, time-invariant B/C) must be fp32."""
    if not mamba_ssm_available():
        raise RuntimeError("scan backend 'mamba_ssm' requested but mamba-ssm is not importable: "
                           "pip install 'intermamba[cuda]' on a CUDA machine, or use backend='fused'")
    if not u.is_cuda:
        raise RuntimeError("scan backend 'mamba_ssm' needs CUDA tensors; use backend='fused' on CPU")
    if u.dtype == torch.float64:
        raise RuntimeError("mamba-ssm has no float64 kernel; use backend='fused' for float64")
    weight = torch.float32
    A = A.to(weight)
    B = B.to(u.dtype if B.dim() > 2 else weight)
    C = C.to(u.dtype if C.dim() > 2 else weight)
    D = None if D is None else D.to(weight)
    delta_bias = None if delta_bias is None else delta_bias.to(weight)
    return _MAMBA_SSM_FN(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state)


# ----------------------------------------------------------------------------------------- dispatch
_IMPLEMENTATIONS = {
    "ref": selective_scan_ref,
    "fused": selective_scan_fused,
    "native": selective_scan_native,
    "triton": selective_scan_triton,
    "mamba_ssm": selective_scan_mamba_ssm,
}


@contextlib.contextmanager
def scan_backend(name: str):
    """Force a backend (one of BACKENDS) for every scan run inside the block."""
    if name not in BACKENDS:
        raise ValueError(f"unknown scan backend {name!r}; choose one of {', '.join(BACKENDS)}")
    global _forced_backend
    previous, _forced_backend = _forced_backend, name
    try:
        yield
    finally:
        _forced_backend = previous


def resolve_backend(u: torch.Tensor, backend: str | None = None) -> str:
    """The backend a scan of `u` would use: `backend`, else the one forced by `scan_backend`, else auto."""
    name = backend if backend is not None else _forced_backend
    if name not in BACKENDS:
        raise ValueError(f"unknown scan backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if name == "auto":
        if u.is_cuda and u.dtype != torch.float64 and mamba_ssm_available():
            name = "mamba_ssm"
        elif u.is_cuda and u.dtype != torch.float64 and triton_available():
            name = "triton"
        elif u.device.type == "cpu" and native_available():
            name = "native"
        else:
            name = "fused"
    return name


def backend_report() -> list[str]:
    """What `auto` picks on each device here, and why: one line per device (for `intermamba info`)."""
    status = native_status()
    cpu = "native" if status.module is not None else "fused"
    lines = [f"selective scan on CPU: {cpu} - {status.reason}"]
    if torch.cuda.is_available():
        if mamba_ssm_available():
            lines.append("selective scan on CUDA: mamba_ssm - mamba-ssm imports")
        elif triton_available():
            lines.append("selective scan on CUDA: triton - mamba-ssm does not import, the triton package does")
        else:
            lines.append("selective scan on CUDA: fused - neither mamba-ssm nor triton imports")
    return lines


def selective_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False,
                   return_last_state=False, *, backend: str | None = None):
    """Selective scan with mamba-ssm's signature and semantics (see the module docstring for shapes).

    Returns y (B, D, L) in u's dtype, and the last state (B, D, N) too when `return_last_state`.
    `backend` forces one of BACKENDS for this call ("auto"/None: see the module docstring).
    """
    _check_inputs(u, delta, A, B, C, D, z, delta_bias)
    impl = _IMPLEMENTATIONS[resolve_backend(u, backend)]
    return impl(u, delta, A, B, C, D, z, delta_bias, delta_softplus, return_last_state)
