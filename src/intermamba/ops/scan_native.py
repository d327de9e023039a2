"""A compiled CPU selective scan (C++, built ahead of time with `intermamba build-kernels`; optional).

Each (batch, channel) row keeps its N-vector state in cache and walks time once; exp, the state update and the
contraction with C are one fused, vectorised inner loop over N (-O3 -march=native -ffast-math lets the compiler
use a SIMD exp). Forward and backward both run here; the backward recomputes each row's states into a small
per-row buffer instead of saving (B, D, N, L) states, so training memory stays O(inputs).

Layout handed to the kernel (prepared in `ops/scan.py`): u, delta (B, D, L) contiguous; A (D, N); B, C either
(D, N) time-invariant or (B, G, L, N) time-major with the state innermost (a (B, N, L) input is G = 1).
Building needs a C++ compiler and ninja, and happens only when asked (`build_native`, `intermamba build-kernels`;
ops/kernels.py says why and where the library lives); until then the scan uses the pure-PyTorch fused path.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from .kernels import BuildResult, CpuKernel, compiler, say

_SOURCE = r"""
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <algorithm>
#include <cmath>
#include <vector>

namespace {

// delta'_t = softplus(delta_t + delta_bias) for a whole row (mamba-ssm's semantics), in the overflow-free form
// max(x, 0) + log1p(exp(-|x|)), branch-free so that it vectorises; and d delta' / d delta = sigmoid(x).
template <typename T>
inline void step_sizes(T* __restrict out, const T* __restrict raw, T bias, bool softplus, int64_t L) {
  if (softplus) {
    for (int64_t t = 0; t < L; ++t) {
      const T x = raw[t] + bias;
      out[t] = std::max(x, T(0)) + std::log1p(std::exp(-std::abs(x)));
    }
  } else {
    for (int64_t t = 0; t < L; ++t) out[t] = raw[t] + bias;
  }
}

template <typename T>
inline void step_size_grads(T* __restrict out, const T* __restrict raw, T bias, bool softplus, int64_t L) {
  for (int64_t t = 0; t < L; ++t) out[t] = softplus ? T(1) / (T(1) + std::exp(-(raw[t] + bias))) : T(1);
}

// Pointer to row (b, d)'s B or C values at time 0: time-invariant (D, N) or varying (B, G, L, N).
template <typename T>
inline const T* bc_row(const T* X, bool varying, int64_t groups, int64_t b, int64_t d, int64_t D, int64_t L, int64_t N) {
  if (!varying) return X + d * N;
  const int64_t g = d / (D / groups);
  return X + (b * groups + g) * L * N;
}

// The inner loops over the state (N), written with restrict pointers so the compiler vectorises them
// (with -ffast-math, exp becomes the SIMD exp of glibc's libmvec).
template <typename T>
inline void discretise(T* __restrict a, const T* __restrict Ad, T dt, int64_t N) {
  for (int64_t n = 0; n < N; ++n) a[n] = std::exp(dt * Ad[n]);                 // Abar_t = exp(delta_t A) (Eq. 5)
}

template <typename T>
inline T step(T* __restrict h, const T* __restrict a, const T* __restrict Bt, const T* __restrict Ct, T x,
              int64_t N) {
  T acc = 0;
  for (int64_t n = 0; n < N; ++n) {
    h[n] = a[n] * h[n] + x * Bt[n];                                             // Eq. 4
    acc += h[n] * Ct[n];                                                        // y_t = C_t h_t
  }
  return acc;
}

// One reverse-time step of the backward for one row; returns d(delta u)_t and sum_n gdA_t A through *ddA.
template <typename T>
inline T reverse_step(T* __restrict g, T* __restrict dCt, T* __restrict dBt, T* __restrict dAd,
                      const T* __restrict h, const T* __restrict hp, const T* __restrict a,
                      const T* __restrict Ad, const T* __restrict Bt, const T* __restrict Ct,
                      T gyt, T x, T dt, int64_t N, T* ddA_out) {
  T dx = 0, ddA = 0;
  for (int64_t n = 0; n < N; ++n) {
    g[n] += gyt * Ct[n];                                                        // g_t = C_t gy_t + Abar_{t+1} g_{t+1}
    dCt[n] += gyt * h[n];                                                       // dC_t = sum_d gy_t h_t
    dBt[n] += g[n] * x;                                                         // dB_t = sum_d g_t delta_t u_t
    dx += g[n] * Bt[n];                                                         // d(delta u)_t
  }
  if (hp) {                                                                     // through Abar_t h_{t-1}
    for (int64_t n = 0; n < N; ++n) {
      const T gdA = g[n] * a[n] * hp[n];
      ddA += gdA * Ad[n];
      dAd[n] += gdA * dt;
    }
  }
  for (int64_t n = 0; n < N; ++n) g[n] *= a[n];                                 // carried to step t - 1
  *ddA_out = ddA;
  return dx;
}

template <typename T>
void forward_rows(const T* u, const T* delta, const T* bias, bool softplus, const T* A, const T* B, const T* C,
                  T* y, T* last, int64_t Bsz, int64_t D, int64_t L, int64_t N, bool varB, int64_t GB, bool varC, int64_t GC) {
  at::parallel_for(0, Bsz * D, 1, [&](int64_t begin, int64_t end) {
    std::vector<T> h(N), a(N), dts(L);
    for (int64_t row = begin; row < end; ++row) {
      const int64_t b = row / D, d = row % D;
      const T* Ad = A + d * N;
      const T* Bp = bc_row(B, varB, GB, b, d, D, L, N);
      const T* Cp = bc_row(C, varC, GC, b, d, D, L, N);
      const int64_t sB = varB ? N : 0, sC = varC ? N : 0;
      step_sizes(dts.data(), delta + row * L, bias ? bias[d] : T(0), softplus, L);
      std::fill(h.begin(), h.end(), T(0));
      for (int64_t t = 0; t < L; ++t) {
        const T dt = dts[t], x = dt * u[row * L + t];
        const T* Bt = Bp + t * sB;
        const T* Ct = Cp + t * sC;
        discretise(a.data(), Ad, dt, N);
        y[row * L + t] = step(h.data(), a.data(), Bt, Ct, x, N);
      }
      for (int64_t n = 0; n < N; ++n) last[row * N + n] = h[n];
    }
  });
}

// Gradients. Parallel over the batch only, so the varying dB/dC (summed over a group's channels) and the
// per-batch partials of dA and time-invariant dB/dC (summed over the batch afterwards) have one writer each.
template <typename T>
void backward_rows(const T* u, const T* delta, const T* bias, bool softplus, const T* A, const T* B, const T* C,
                   const T* gy, const T* glast,
                   T* du, T* ddelta, T* dA, T* dB, T* dC,
                   int64_t Bsz, int64_t D, int64_t L, int64_t N, bool varB, int64_t GB, bool varC, int64_t GC) {
  at::parallel_for(0, Bsz, 1, [&](int64_t begin, int64_t end) {
    std::vector<T> H(L * N), Ab(L * N), g(N), dts(L), dts_grad(L);
    for (int64_t b = begin; b < end; ++b) {
      for (int64_t d = 0; d < D; ++d) {
        const int64_t row = b * D + d;
        const T* Ad = A + d * N;
        const T* Bp = bc_row(B, varB, GB, b, d, D, L, N);
        const T* Cp = bc_row(C, varC, GC, b, d, D, L, N);
        const int64_t sB = varB ? N : 0, sC = varC ? N : 0;
        // dB, dC: varying ones are written at (b, g, t, n); time-invariant ones into the per-batch partial.
        T* dBp = varB ? dB + (b * GB + d / (D / GB)) * L * N : dB + (b * D + d) * N;
        T* dCp = varC ? dC + (b * GC + d / (D / GC)) * L * N : dC + (b * D + d) * N;
        T* dAd = dA + (b * D + d) * N;
        step_sizes(dts.data(), delta + row * L, bias ? bias[d] : T(0), softplus, L);
        step_size_grads(dts_grad.data(), delta + row * L, bias ? bias[d] : T(0), softplus, L);
        // 1. this row's Abar_t and states h_t, t = 0..L-1 (recomputed: nothing of size (B, D, N, L) is saved)
        for (int64_t t = 0; t < L; ++t) {
          const T dt = dts[t], x = dt * u[row * L + t];
          const T* Bt = Bp + t * sB;
          T* a = Ab.data() + t * N;
          T* h = H.data() + t * N;
          discretise(a, Ad, dt, N);
          if (t == 0) {
            for (int64_t n = 0; n < N; ++n) h[n] = x * Bt[n];
          } else {
            const T* hp = h - N;
            for (int64_t n = 0; n < N; ++n) h[n] = a[n] * hp[n] + x * Bt[n];
          }
        }
        // 2. reverse time: g_t = C_t gy_t + Abar_{t+1} g_{t+1} (+ the last state's gradient at t = L-1)
        for (int64_t n = 0; n < N; ++n) g[n] = glast ? glast[row * N + n] : T(0);
        for (int64_t t = L - 1; t >= 0; --t) {
          const T dt = dts[t], uu = u[row * L + t], x = dt * uu, gyt = gy[row * L + t];
          const T* Bt = Bp + t * sB;
          const T* Ct = Cp + t * sC;
          const T* h = H.data() + t * N;
          const T* a = Ab.data() + t * N;
          T* dBt = dBp + t * sB;
          T* dCt = dCp + t * sC;
          T ddA = 0;
          const T dx = reverse_step(g.data(), dCt, dBt, dAd, h, t > 0 ? h - N : nullptr, a, Ad, Bt, Ct,
                                    gyt, x, dt, N, &ddA);
          du[row * L + t] = dx * dt;
          ddelta[row * L + t] = (dx * uu + ddA) * dts_grad[t];
        }
      }
    }
  });
}

}  // namespace

// delta_bias: (D,) or an empty tensor for none. Returns y (B, D, L) = C h (no D skip, no gate) and the last state.
std::vector<torch::Tensor> scan_forward(torch::Tensor u, torch::Tensor delta, torch::Tensor delta_bias, bool softplus,
                                        torch::Tensor A, torch::Tensor B, torch::Tensor C, int64_t GB, int64_t GC) {
  const int64_t Bsz = u.size(0), D = u.size(1), L = u.size(2), N = A.size(1);
  auto y = torch::empty_like(u);
  auto last = torch::empty({Bsz, D, N}, u.options());
  const bool varB = B.dim() == 4, varC = C.dim() == 4;
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "intermamba_scan_forward", [&] {
    forward_rows<scalar_t>(u.data_ptr<scalar_t>(), delta.data_ptr<scalar_t>(),
                           delta_bias.numel() ? delta_bias.data_ptr<scalar_t>() : nullptr, softplus, A.data_ptr<scalar_t>(),
                           B.data_ptr<scalar_t>(), C.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(),
                           last.data_ptr<scalar_t>(), Bsz, D, L, N, varB, GB, varC, GC);
  });
  return {y, last};
}

// Gradients of u, the raw delta (before bias and softplus), A, B, C; the bias's is ddelta summed over (B, L).
std::vector<torch::Tensor> scan_backward(torch::Tensor u, torch::Tensor delta, torch::Tensor delta_bias, bool softplus,
                                         torch::Tensor A, torch::Tensor B, torch::Tensor C, torch::Tensor gy, c10::optional<torch::Tensor> glast,
                                         int64_t GB, int64_t GC) {
  const int64_t Bsz = u.size(0), D = u.size(1), L = u.size(2), N = A.size(1);
  const bool varB = B.dim() == 4, varC = C.dim() == 4;
  auto du = torch::empty_like(u);
  auto ddelta = torch::empty_like(u);
  auto dA = torch::zeros({Bsz, D, N}, u.options());                          // per-batch partials
  auto dB = varB ? torch::zeros_like(B) : torch::zeros({Bsz, D, N}, u.options());
  auto dC = varC ? torch::zeros_like(C) : torch::zeros({Bsz, D, N}, u.options());
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "intermamba_scan_backward", [&] {
    backward_rows<scalar_t>(u.data_ptr<scalar_t>(), delta.data_ptr<scalar_t>(),
                            delta_bias.numel() ? delta_bias.data_ptr<scalar_t>() : nullptr, softplus, A.data_ptr<scalar_t>(),
                            B.data_ptr<scalar_t>(), C.data_ptr<scalar_t>(), gy.data_ptr<scalar_t>(),
                            glast.has_value() ? glast->data_ptr<scalar_t>() : nullptr,
                            du.data_ptr<scalar_t>(), ddelta.data_ptr<scalar_t>(), dA.data_ptr<scalar_t>(),
                            dB.data_ptr<scalar_t>(), dC.data_ptr<scalar_t>(), Bsz, D, L, N, varB, GB, varC, GC);
  });
  return {du, ddelta, dA.sum(0), varB ? dB : dB.sum(0), varC ? dC : dC.sum(0)};
}
"""

SCAN_KERNEL = CpuKernel(name="intermamba_scan_cpu", source=_SOURCE, functions=("scan_forward", "scan_backward"),
                        cflags=("-O3", "-march=native", "-ffast-math", "-fopenmp"), ldflags=("-fopenmp",))
DISABLE_ENV = "INTERMAMBA_NO_NATIVE_SCAN"   # set to 1 to never use the compiled scan (and hear nothing about it)


class NativeStatus(NamedTuple):
    module: object | None   # the loaded extension, or None
    reason: str             # why it is or is not in use, one line


_STATUS: NativeStatus | None = None
_TOLD = False


def native_status() -> NativeStatus:
    """Whether this process uses the compiled scan, and why; looked up once, never builds (see ops/kernels.py)."""
    global _STATUS
    if _STATUS is None:
        _STATUS = _look_up()
    return _STATUS


def native_disabled() -> bool:
    """True when INTERMAMBA_NO_NATIVE_SCAN asks for the PyTorch scan."""
    return os.environ.get(DISABLE_ENV, "") not in ("", "0")


def _look_up() -> NativeStatus:
    if native_disabled():
        return NativeStatus(None, f"the compiled kernel is disabled by {DISABLE_ENV}={os.environ[DISABLE_ENV]}")
    try:
        module = SCAN_KERNEL.load()
    except Exception as err:  # ImportError, OSError: a library that is there but does not load
        return NativeStatus(None, f"the compiled kernel at {SCAN_KERNEL.library} does not load ({type(err).__name__}: "
                                  f"{str(err)[:150]}); rebuild it with `intermamba build-kernels --force`")
    if module is not None:
        return NativeStatus(module, f"compiled kernel loaded from {SCAN_KERNEL.library}")
    if compiler() is None:
        return NativeStatus(None, "the compiled kernel is not built and no C++ compiler was found; install one "
                                  "(e.g. g++), then run `intermamba build-kernels`")
    return NativeStatus(None, "the compiled kernel is not built for this Python, PyTorch and CPU; run "
                              "`intermamba build-kernels` once (about a minute)")


def native_module():
    """The compiled extension when it is built, else None; never builds. The first time it is missing, one line on
    stderr says that the PyTorch scan serves instead and how to get the compiled one (not when disabled on purpose)."""
    global _TOLD
    status = native_status()
    if status.module is None and not _TOLD and not native_disabled():
        _TOLD = True
        say(f"using the slower pure-PyTorch selective scan: {status.reason}")
    return status.module


def build_native(*, force: bool = False, log=say) -> BuildResult:
    """Build the compiled scan for this machine (`intermamba build-kernels`); this process uses it afterwards.
    Raises KernelBuildError with a one-line message (no compiler, a compile error, another build too long)."""
    global _STATUS
    result = SCAN_KERNEL.build(force=force, log=log)
    _STATUS = None   # looked up again on next use: loads what was just built
    return result
