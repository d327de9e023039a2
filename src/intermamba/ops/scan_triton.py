"""A Triton selective scan for GPUs: one launch walks all of time (no per-step kernel launches); optional.

Each program owns one batch row and a block of channels, keeps their (BLOCK_D, N) states in registers and loops
over time once, fusing softplus(delta + bias), the discretisation (Eq. 5), the state update (Eq. 4) and y = C h.
Nothing of size (B, D, N, L) is ever stored: the forward saves the state at the start of every CHUNK steps
(only when autograd will need it), and the backward, walking chunks from last to first, recomputes one chunk's
states into a small scratch buffer and then runs the reverse-time recurrence over it.

Layout handed to the kernels: u, delta (B, L, D) contiguous (transposed by `TritonScan.forward`), so each step
loads a contiguous block of channels; A (D, N); B, C as the native kernel takes them (ops/scan.py's
`_bc_kernel_layout`): (D, N) time-invariant or (B, G, L, N) time-major with the state innermost. Kernels compute
in the inputs' dtype (fp32, or fp64 for tests). With TRITON_INTERPRET=1 they run on CPU tensors through Triton's
interpreter: that is how the test suite validates them without a GPU.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

CHUNK = 32          # steps between saved states: backward scratch is (B, D, CHUNK, N), checkpoints (B, L/CHUNK, D, N)
MAX_BLOCK_D = 32    # channels per program


@triton.jit
def _step_size(raw, bias, SOFTPLUS: tl.constexpr):
    """delta'_t = softplus(delta_t + bias) in mamba-ssm's thresholded form, and d delta' / d delta."""
    x = raw + bias
    if SOFTPLUS:
        e = tl.exp(tl.minimum(x, 20.0))
        step = tl.where(x <= 20.0, tl.log(1.0 + e), x)
        slope = tl.where(x <= 20.0, e / (1.0 + e), 1.0)
    else:
        step = x
        slope = tl.full(x.shape, 1.0, x.dtype)
    return step, slope


@triton.jit
def _load_bc(ptr, base, t, offs_d, offs_n, mask_dn, N, VARYING: tl.constexpr):
    """B_t or C_t as a (1, BLOCK_N) row of the (B, G, L, N) tensor, or the (BLOCK_D, BLOCK_N) time-invariant one."""
    if VARYING:  # one return after the branch: compiled Triton requires every return to have one type
        X = tl.load(ptr + base + t * N + offs_n[None, :], mask=offs_n[None, :] < N, other=0.0)
    else:
        X = tl.load(ptr + offs_d[:, None] * N + offs_n[None, :], mask=mask_dn, other=0.0)
    return X


@triton.jit
def _scan_forward_kernel(u_ptr, delta_ptr, bias_ptr, A_ptr, B_ptr, C_ptr, y_ptr, last_ptr, ckpt_ptr,
                         L, D, N, G, dims_per_group,
                         HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr, B_VARYING: tl.constexpr,
                         C_VARYING: tl.constexpr, SAVE_CKPT: tl.constexpr, CHUNK_: tl.constexpr,
                         BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr):
    b = tl.program_id(0)
    offs_d = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)             # (BD,) channels of this program
    offs_n = tl.arange(0, BLOCK_N)
    mask_d = offs_d < D
    mask_dn = mask_d[:, None] & (offs_n[None, :] < N)                       # (BD, BN)
    bc_base = (b * G + (tl.program_id(1) * BLOCK_D) // dims_per_group) * L * N  # this block's group of B/C
    dn = offs_d[:, None] * N + offs_n[None, :]
    A = tl.load(A_ptr + dn, mask=mask_dn, other=0.0)                       # (BD, BN)
    bias = 0.0
    if HAS_BIAS:
        bias = tl.load(bias_ptr + offs_d, mask=mask_d, other=0.0)
    row = b * L * D + offs_d                                                # u[b, t, d] = row + t * D
    h = tl.zeros((BLOCK_D, BLOCK_N), dtype=A.dtype)                         # h_{-1} = 0
    for start in range(0, L, CHUNK_):
        if SAVE_CKPT:                                                       # state before this chunk's first step
            tl.store(ckpt_ptr + (b * tl.cdiv(L, CHUNK_) + start // CHUNK_) * D * N + dn, h, mask=mask_dn)
        for t in range(start, tl.minimum(start + CHUNK_, L)):
            dt, _ = _step_size(tl.load(delta_ptr + row + t * D, mask=mask_d, other=0.0), bias, SOFTPLUS)  # (BD,)
            u = tl.load(u_ptr + row + t * D, mask=mask_d, other=0.0)
            B_t = _load_bc(B_ptr, bc_base, t, offs_d, offs_n, mask_dn, N, B_VARYING)
            C_t = _load_bc(C_ptr, bc_base, t, offs_d, offs_n, mask_dn, N, C_VARYING)
            h = tl.exp(dt[:, None] * A) * h + (dt * u)[:, None] * B_t       # Eqs. 4-5
            tl.store(y_ptr + row + t * D, tl.sum(h * C_t, axis=1), mask=mask_d)  # y_t = C_t h_t
    tl.store(last_ptr + b * D * N + dn, h, mask=mask_dn)


@triton.jit
def _scan_backward_kernel(u_ptr, delta_ptr, bias_ptr, A_ptr, B_ptr, C_ptr, gy_ptr, glast_ptr, ckpt_ptr,
                          scratch_ptr, du_ptr, ddelta_ptr, dA_ptr, dB_ptr, dC_ptr,
                          L, D, N, G, dims_per_group,
                          HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr, B_VARYING: tl.constexpr,
                          C_VARYING: tl.constexpr, HAS_GLAST: tl.constexpr, CHUNK_: tl.constexpr,
                          BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr):
    """Reverse-time pass. g_t = dLoss/dh_t = C_t gy_t + Abar_{t+1} g_{t+1}; per step (channels d, states n):
        d(delta u)_t = sum_n g_t B_t          -> du_t = d(delta u)_t delta_t
        gdA_t = g_t Abar_t h_{t-1}            -> dA += gdA_t delta_t,  d delta_t = d(delta u)_t u_t + sum_n gdA_t A
        dB_t = sum_d g_t delta_t u_t,  dC_t = sum_d gy_t h_t   (per-block partial sums, reduced by the caller)
    """
    b = tl.program_id(0)
    blk = tl.program_id(1)
    nblk = tl.num_programs(1)
    offs_d = blk * BLOCK_D + tl.arange(0, BLOCK_D)
    offs_n = tl.arange(0, BLOCK_N)
    mask_d = offs_d < D
    mask_dn = mask_d[:, None] & (offs_n[None, :] < N)
    mask_n = offs_n < N
    bc_base = (b * G + (blk * BLOCK_D) // dims_per_group) * L * N
    dn = offs_d[:, None] * N + offs_n[None, :]
    A = tl.load(A_ptr + dn, mask=mask_dn, other=0.0)
    bias = 0.0
    if HAS_BIAS:
        bias = tl.load(bias_ptr + offs_d, mask=mask_d, other=0.0)
    row = b * L * D + offs_d
    # this program's scratch: CHUNK states of (BLOCK_D, BLOCK_N)
    scratch = scratch_ptr + (b * nblk + blk) * CHUNK_ * BLOCK_D * BLOCK_N \
        + tl.arange(0, BLOCK_D)[:, None] * BLOCK_N + offs_n[None, :]
    carry = tl.zeros((BLOCK_D, BLOCK_N), dtype=A.dtype)                     # Abar_{t+1} g_{t+1}
    if HAS_GLAST:
        carry = tl.load(glast_ptr + b * D * N + dn, mask=mask_dn, other=0.0)
    dA = tl.zeros((BLOCK_D, BLOCK_N), dtype=A.dtype)
    dB_inv = tl.zeros((BLOCK_D, BLOCK_N), dtype=A.dtype)                    # time-invariant B / C partials
    dC_inv = tl.zeros((BLOCK_D, BLOCK_N), dtype=A.dtype)
    n_chunks = tl.cdiv(L, CHUNK_)
    for i in range(0, n_chunks):
        c = n_chunks - 1 - i
        start = c * CHUNK_
        steps = tl.minimum(start + CHUNK_, L) - start
        h_start = tl.load(ckpt_ptr + (b * n_chunks + c) * D * N + dn, mask=mask_dn, other=0.0)
        h = h_start
        for k in range(0, steps):                                          # recompute this chunk's states
            t = start + k
            dt, _ = _step_size(tl.load(delta_ptr + row + t * D, mask=mask_d, other=0.0), bias, SOFTPLUS)
            B_t = _load_bc(B_ptr, bc_base, t, offs_d, offs_n, mask_dn, N, B_VARYING)
            u = tl.load(u_ptr + row + t * D, mask=mask_d, other=0.0)
            h = tl.exp(dt[:, None] * A) * h + (dt * u)[:, None] * B_t
            tl.store(scratch + k * BLOCK_D * BLOCK_N, h)
        tl.debug_barrier()
        for j in range(0, steps):
            k = steps - 1 - j
            t = start + k
            dt, dsoft = _step_size(tl.load(delta_ptr + row + t * D, mask=mask_d, other=0.0), bias, SOFTPLUS)  # (BD,)
            u = tl.load(u_ptr + row + t * D, mask=mask_d, other=0.0)
            gy = tl.load(gy_ptr + row + t * D, mask=mask_d, other=0.0)
            B_t = _load_bc(B_ptr, bc_base, t, offs_d, offs_n, mask_dn, N, B_VARYING)
            C_t = _load_bc(C_ptr, bc_base, t, offs_d, offs_n, mask_dn, N, C_VARYING)
            h = tl.load(scratch + k * BLOCK_D * BLOCK_N)                    # h_t
            h_prev = tl.load(scratch + tl.maximum(k - 1, 0) * BLOCK_D * BLOCK_N)
            h_prev = tl.where(k > 0, h_prev, h_start)                       # h_{t-1}
            g = carry + gy[:, None] * C_t                                   # dLoss/dh_t
            Abar = tl.exp(dt[:, None] * A)
            gdA = g * Abar * h_prev
            d_deltau = tl.sum(g * B_t, axis=1)                              # (BD,)
            dA += gdA * dt[:, None]
            tl.store(du_ptr + row + t * D, d_deltau * dt, mask=mask_d)
            tl.store(ddelta_ptr + row + t * D, (d_deltau * u + tl.sum(gdA * A, axis=1)) * dsoft, mask=mask_d)
            if B_VARYING:
                tl.store(dB_ptr + ((b * nblk + blk) * L + t) * N + offs_n,
                         tl.sum(g * (dt * u)[:, None], axis=0), mask=mask_n)
            else:
                dB_inv += g * (dt * u)[:, None]
            if C_VARYING:
                tl.store(dC_ptr + ((b * nblk + blk) * L + t) * N + offs_n, tl.sum(h * gy[:, None], axis=0),
                         mask=mask_n)
            else:
                dC_inv += h * gy[:, None]
            carry = Abar * g
        tl.debug_barrier()                                                  # scratch is rewritten next chunk
    tl.store(dA_ptr + b * D * N + dn, dA, mask=mask_dn)
    if not B_VARYING:
        tl.store(dB_ptr + b * D * N + dn, dB_inv, mask=mask_dn)
    if not C_VARYING:
        tl.store(dC_ptr + b * D * N + dn, dC_inv, mask=mask_dn)


def _block_d(dim: int, groups: int) -> int:
    """Channels per program. Ungrouped: a power of two up to MAX_BLOCK_D (the last block is masked). Grouped: the
    largest power of two <= MAX_BLOCK_D dividing the channels of a group, so that a block never straddles groups."""
    if groups == 1:
        return min(MAX_BLOCK_D, triton.next_power_of_2(dim))
    dims_per_group = dim // groups
    block = 1
    while block < MAX_BLOCK_D and dims_per_group % (2 * block) == 0:
        block *= 2
    return block


def _num_warps(block_d: int, block_n: int) -> int:
    """About four state elements per thread: 1 warp for a (4, 16) block, 4 for (32, 16)."""
    return max(1, min(4, block_d * block_n // 128))


def _bc_grad(partial: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """Reduce the kernels' per-block partial sums to the gradient of B or C in kernel layout (X's shape).

    time-invariant (D, N): partials (batch, D, N) summed over the batch; varying (batch, G, L, N): partials
    (batch, blocks, L, N) summed over each group's blocks (a block never straddles a group).
    """
    if X.dim() == 2:
        return partial.sum(0)
    batch, blocks, length, d_state = partial.shape
    groups = X.shape[1]
    return partial.view(batch, groups, blocks // groups, length, d_state).sum(2)


class TritonScan(torch.autograd.Function):
    """The kernels as an autograd function, with the native CPU kernel's interface: delta_bias and softplus go
    into the kernel, the D skip and the silu(z) gate stay outside (ops/scan.py's `_scan_with`). B and C come in
    kernel layout, (D, N) or time-major (B, G, L, N) (ops/scan.py's `_bc_kernel_layout`); gradients go back in it."""

    @staticmethod
    def forward(ctx, u, delta, A, B, C, delta_bias, softplus):
        ctx.set_materialize_grads(False)   # an unused output's gradient stays None: no zeros to build or read
        batch, dim, length = u.shape
        d_state = A.shape[1]
        b_varying, c_varying = B.dim() == 4, C.dim() == 4
        groups_b, groups_c = (B.shape[1] if b_varying else 1), (C.shape[1] if c_varying else 1)
        groups = math.lcm(groups_b, groups_c)
        Bk, Ck = B, C
        if b_varying and c_varying and groups_b != groups_c:   # the kernels index B and C with one group id
            Bk = B.repeat_interleave(groups // groups_b, dim=1)
            Ck = C.repeat_interleave(groups // groups_c, dim=1)
        ut = u.transpose(1, 2).contiguous()                        # (B, L, D)
        deltat = delta.transpose(1, 2).contiguous()
        A = A.contiguous()
        bias = delta_bias.contiguous() if delta_bias is not None else ut.new_empty(0)
        block_d = _block_d(dim, groups)
        block_n = triton.next_power_of_2(d_state)
        save = any(ctx.needs_input_grad[:6])                        # checkpoints only when a backward will come
        y = torch.empty_like(ut)
        last = ut.new_empty(batch, dim, d_state)
        ckpt = ut.new_empty(batch, triton.cdiv(length, CHUNK), dim, d_state) if save else ut.new_empty(0)
        _scan_forward_kernel[(batch, triton.cdiv(dim, block_d))](
            ut, deltat, bias, A, Bk, Ck, y, last, ckpt, length, dim, d_state, groups, dim // groups,
            HAS_BIAS=delta_bias is not None, SOFTPLUS=bool(softplus), B_VARYING=b_varying, C_VARYING=c_varying,
            SAVE_CKPT=save, CHUNK_=CHUNK, BLOCK_D=block_d, BLOCK_N=block_n, num_warps=_num_warps(block_d, block_n))
        ctx.save_for_backward(ut, deltat, bias, A, B, C, Bk, Ck, ckpt)
        ctx.settings = (bool(softplus), groups, block_d, delta_bias is not None)
        return y.transpose(1, 2), last

    @staticmethod
    def backward(ctx, grad_y, grad_last):
        ut, deltat, bias, A, B, C, Bk, Ck, ckpt = ctx.saved_tensors
        softplus, groups, block_d, has_bias = ctx.settings
        b_varying, c_varying = B.dim() == 4, C.dim() == 4
        batch, length, dim = ut.shape
        d_state = A.shape[1]
        blocks = triton.cdiv(dim, block_d)
        block_n = triton.next_power_of_2(d_state)
        gy = grad_y.transpose(1, 2).contiguous() if grad_y is not None else torch.zeros_like(ut)
        glast = grad_last.contiguous() if grad_last is not None else ut.new_empty(0)
        scratch = ut.new_empty(batch, blocks, CHUNK, block_d, block_n)
        du, ddelta = torch.empty_like(ut), torch.empty_like(ut)
        dA = ut.new_empty(batch, dim, d_state)

        def bc_partial(varying):
            return ut.new_zeros(batch, blocks, length, d_state) if varying else ut.new_empty(batch, dim, d_state)

        dB, dC = bc_partial(b_varying), bc_partial(c_varying)
        _scan_backward_kernel[(batch, blocks)](
            ut, deltat, bias, A, Bk, Ck, gy, glast, ckpt, scratch, du, ddelta, dA, dB, dC,
            length, dim, d_state, groups, dim // groups,
            HAS_BIAS=has_bias, SOFTPLUS=softplus, B_VARYING=b_varying, C_VARYING=c_varying,
            HAS_GLAST=grad_last is not None, CHUNK_=CHUNK, BLOCK_D=block_d, BLOCK_N=block_n,
            num_warps=_num_warps(block_d, block_n))
        ddelta = ddelta.transpose(1, 2)
        dbias = ddelta.sum((0, 2)) if has_bias else None
        return du.transpose(1, 2), ddelta, dA.sum(0), _bc_grad(dB, B), _bc_grad(dC, C), dbias, None
