"""The selective scan: every fast path against the reference, gradients, dispatch and error messages."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from intermamba.ops import (
    KernelBuildError,
    build_native,
    mamba_ssm_available,
    native_available,
    resolve_backend,
    scan_backend,
    selective_scan,
    selective_scan_fused,
    selective_scan_ref,
    triton_available,
)

LAYOUTS = ("time_invariant", "input_dependent", "grouped")


def _build_native() -> str:
    """Build the compiled scan as `intermamba build-kernels` does (about a minute the first time on a machine,
    nothing once built), so that its tests run wherever it can be built; why not, when it cannot."""
    from intermamba.ops.scan_native import native_disabled

    if native_disabled():
        return "disabled by INTERMAMBA_NO_NATIVE_SCAN"
    try:
        build_native()
    except KernelBuildError as err:
        return str(err)
    return ""


NO_NATIVE = _build_native()
# The fast paths checked on CPU tensors: pure PyTorch, the compiled kernel where a C++ compiler could build it, and
# the Triton GPU kernels run through Triton's interpreter. The interpreter must be on before triton is first imported,
# so the "triton" cases run in a child pytest with TRITON_INTERPRET=1 (test_triton_kernels_under_the_interpreter).
INTERPRETING = os.environ.get("TRITON_INTERPRET") == "1"
FAST = ["fused",
        pytest.param("native", marks=pytest.mark.skipif(bool(NO_NATIVE), reason=f"no compiled CPU scan: {NO_NATIVE}")),
        pytest.param("triton", marks=pytest.mark.skipif(not INTERPRETING, reason="run by the interpreter test"))]


def fast_scan(backend):
    def scan(*args, **kw):
        return selective_scan(*args, backend=backend, **kw)
    return scan


def make_inputs(batch, dim, d_state, length, *, layout_B, layout_C=None, groups=2, dtype=torch.float64, seed=0):
    """Random scan inputs with a stable A (negative) and small positive deltas, as a Mamba layer has them."""
    gen = torch.Generator().manual_seed(seed)

    def randn(*shape):
        return torch.randn(*shape, generator=gen, dtype=dtype)

    def bc(layout):
        return {"time_invariant": (dim, d_state), "input_dependent": (batch, d_state, length),
                "grouped": (batch, groups, d_state, length)}[layout]

    return dict(
        u=randn(batch, dim, length),
        delta=randn(batch, dim, length) * 0.5,
        A=-torch.rand(dim, d_state, generator=gen, dtype=dtype) - 0.1,
        B=randn(*bc(layout_B)),
        C=randn(*bc(layout_C or layout_B)),
        D=randn(dim),
        z=randn(batch, dim, length),
        delta_bias=randn(dim) * 0.1,
    )


OPTIONS = [  # (use D, use z, use delta_bias, delta_softplus)
    (False, False, False, False),
    (True, False, False, True),
    (True, True, True, True),
    (False, True, True, False),
]


def call(fn, x, use_D, use_z, use_bias, softplus, last=False, **kw):
    return fn(x["u"], x["delta"] if softplus else x["delta"].abs(), x["A"], x["B"], x["C"],
              x["D"] if use_D else None, x["z"] if use_z else None, x["delta_bias"] if use_bias else None,
              softplus, last, **kw)


@pytest.mark.parametrize("backend", FAST)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("shape", [(2, 4, 3, 1), (1, 6, 5, 7), (3, 4, 2, 13), (2, 40, 4, 9)])
def test_fast_matches_reference_float64(backend, layout, options, shape):
    x = make_inputs(*shape, layout_B=layout)
    y_ref, h_ref = call(selective_scan_ref, x, *options, last=True)
    y_fast, h_fast = call(fast_scan(backend), x, *options, last=True)
    assert y_fast.dtype == torch.float64 and y_fast.shape == y_ref.shape
    torch.testing.assert_close(y_fast, y_ref, atol=1e-10, rtol=0)
    torch.testing.assert_close(h_fast, h_ref, atol=1e-10, rtol=0)


@pytest.mark.parametrize("backend", FAST)
@pytest.mark.parametrize("layout_B,layout_C", [("time_invariant", "input_dependent"),
                                               ("grouped", "time_invariant"), ("input_dependent", "grouped")])
def test_mixed_layouts_of_B_and_C(backend, layout_B, layout_C):
    x = make_inputs(2, 6, 3, 9, layout_B=layout_B, layout_C=layout_C)
    torch.testing.assert_close(call(fast_scan(backend), x, True, True, True, True),
                               call(selective_scan_ref, x, True, True, True, True), atol=1e-10, rtol=0)


def test_inference_path_crosses_chunks_like_the_saving_path():
    """Without autograd the forward walks time in chunks; a length spanning several chunks must agree."""
    from intermamba.ops import scan

    x = make_inputs(2, 4, 3, 2 * scan.INFERENCE_CHUNK + 5, layout_B="input_dependent")
    with torch.no_grad():
        y_chunked = call(selective_scan_fused, x, True, True, True, True)
    inputs = {k: v.clone().requires_grad_() for k, v in x.items()}
    y_saved = call(selective_scan_fused, inputs, True, True, True, True)
    torch.testing.assert_close(y_chunked, y_saved.detach(), atol=1e-10, rtol=0)
    torch.testing.assert_close(y_chunked, call(selective_scan_ref, x, True, True, True, True), atol=1e-10, rtol=0)


@pytest.mark.parametrize("backend", FAST)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("options", [(True, True, True, True), (False, False, False, False)])
def test_gradcheck_every_input(backend, layout, options):
    x = make_inputs(2, 4, 3, 5, layout_B=layout, seed=1)
    names = ["u", "delta", "A", "B", "C", "D", "z", "delta_bias"]
    use_D, use_z, use_bias, softplus = options
    if not softplus:
        x["delta"] = x["delta"].abs()
    leaves = [x[n].clone().requires_grad_() for n in names]

    def fn(u, delta, A, B, C, D, z, delta_bias):  # both outputs, so the last state's gradient is checked too
        return selective_scan(u, delta, A, B, C, D if use_D else None, z if use_z else None,
                              delta_bias if use_bias else None, softplus, True, backend=backend)

    # The interpreter pays ~0.1 s a launch: the Triton kernels get gradcheck's fast mode (random projections of
    # the full Jacobian, still every input).
    assert torch.autograd.gradcheck(fn, leaves, fast_mode=backend == "triton")


@pytest.mark.parametrize("backend", FAST)
def test_gradients_match_reference_float32_long_sequence(backend):
    length = 1000 if backend != "triton" else 4 * 32 + 7   # the interpreter is slow: 4 checkpoint chunks and a tail
    x = make_inputs(2, 8, 16, length, layout_B="input_dependent", dtype=torch.float32, seed=2)
    grads = []
    for fn in (selective_scan_ref, fast_scan(backend)):
        leaves = {k: v.clone().requires_grad_() for k, v in x.items()}
        y = call(fn, leaves, True, True, True, True)
        y.square().mean().backward()
        grads.append((y.detach(), [leaves[k].grad for k in ("u", "delta", "A", "B", "C", "D", "z")]))
    (y_ref, g_ref), (y_fast, g_fast) = grads
    torch.testing.assert_close(y_fast, y_ref, atol=1e-4, rtol=1e-4)
    for a, b in zip(g_fast, g_ref):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("backend", FAST)
def test_half_precision_input_is_computed_in_float32_and_returned_in_input_dtype(backend):
    x = make_inputs(1, 4, 3, 6, layout_B="input_dependent", dtype=torch.float32)
    y = fast_scan(backend)(x["u"].bfloat16(), x["delta"].abs().bfloat16(), x["A"], x["B"].bfloat16(),
                           x["C"].bfloat16())
    y_ref = selective_scan_ref(x["u"].bfloat16(), x["delta"].abs().bfloat16(), x["A"], x["B"].bfloat16(),
                               x["C"].bfloat16())
    assert y.dtype == torch.bfloat16
    torch.testing.assert_close(y.float(), y_ref.float(), atol=1e-2, rtol=1e-2)


def test_dispatch_forcing_and_default():
    x = make_inputs(1, 4, 3, 5, layout_B="time_invariant")
    cpu_default = "native" if native_available() else "fused"   # mamba-ssm is never chosen on CPU
    assert resolve_backend(x["u"]) == cpu_default
    assert resolve_backend(x["u"], "ref") == "ref"
    with scan_backend("ref"):
        assert resolve_backend(x["u"]) == "ref"
        assert resolve_backend(x["u"], "fused") == "fused"  # an explicit keyword wins over the context
    assert resolve_backend(x["u"]) == cpu_default
    for backend in ("ref", "fused", "auto"):
        y = call(selective_scan, x, True, True, True, True, backend=backend)
        torch.testing.assert_close(y, call(selective_scan_ref, x, True, True, True, True), atol=1e-10, rtol=0)


def test_unknown_or_unusable_backend_is_a_clear_error():
    x = make_inputs(1, 4, 3, 5, layout_B="time_invariant")
    with pytest.raises(ValueError, match="unknown scan backend 'fast'"):
        call(selective_scan, x, False, False, False, False, backend="fast")
    with pytest.raises(ValueError, match="unknown scan backend"):
        with scan_backend("triton!"):
            pass
    with pytest.raises(RuntimeError, match="mamba_ssm"):
        call(selective_scan, x, False, False, False, False, backend="mamba_ssm")
    if not INTERPRETING:  # CPU tensors reach the Triton kernels only through the interpreter
        with pytest.raises(RuntimeError, match="scan backend 'triton' (runs on CUDA tensors|needs the triton package)"):
            call(selective_scan, x, False, False, False, False, backend="triton")


@pytest.mark.parametrize("change,message", [
    (dict(u=torch.zeros(2, 4)), "u must be"),
    (dict(delta=torch.zeros(1, 4, 4)), "delta must have u's shape"),
    (dict(A=torch.zeros(5, 3)), "A must be"),
    (dict(B=torch.zeros(1, 3, 4)), "B must be"),
    (dict(C=torch.zeros(1, 3, 3, 5)), "C has 3 groups, which must divide channels=4"),
    (dict(C=torch.zeros(4, 2)), "C must be"),
    (dict(D=torch.zeros(3)), "D must be"),
    (dict(z=torch.zeros(1, 4, 6)), "z must have u's shape"),
    (dict(u=torch.zeros(1, 4, 0), delta=torch.zeros(1, 4, 0)), "zero length"),
])
def test_bad_shapes_are_clear_errors(change, message):
    x = make_inputs(1, 4, 3, 5, layout_B="input_dependent", dtype=torch.float32)
    x.update(change)
    with pytest.raises(ValueError, match=message):
        selective_scan(x["u"], x["delta"], x["A"], x["B"], x["C"], x["D"], x["z"])


@pytest.mark.skipif(INTERPRETING or not triton_available(), reason="triton not installed (the dev extra has it)")
def test_triton_kernels_under_the_interpreter():
    """Every FAST check (float64 equivalence at 1e-10, gradcheck on every input, long float32 gradients, layouts,
    half precision) on the Triton kernels, run on CPU by Triton's interpreter in a child pytest."""
    env = {**os.environ, "TRITON_INTERPRET": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-o", "addopts=", "-m", "not slow and not gpu", "-q",
                           "-p", "no:cacheprovider", __file__, "-k", "triton"],
                          env=env, capture_output=True, text=True, cwd=Path(__file__).parent)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    passed = re.search(r"(\d+) passed", proc.stdout)
    assert passed and int(passed.group(1)) >= 40, proc.stdout[-2000:]   # every FAST case ran on the kernels


@pytest.mark.skipif(INTERPRETING or not triton_available(), reason="triton not installed (the dev extra has it)")
@pytest.mark.parametrize("b_varying,c_varying", [(True, True), (False, True), (True, False)])
def test_triton_kernels_compile_to_gpu_code_without_a_gpu(b_varying, c_varying):
    """The interpreter does not catch what only the compiler rejects (return types, loop-carried types): compile
    every kernel variant ahead of time to Hopper and Ampere machine code (Triton ships its ptxas)."""
    import inspect
    import itertools
    import warnings

    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from intermamba.ops import scan_triton

    def compile_for(kernel, constexprs, dtype="fp32", arch=90):
        signature = {name: "constexpr" if name in constexprs else f"*{dtype}" if name.endswith("_ptr") else "i32"
                     for name in inspect.signature(kernel.fn).parameters}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # Triton's notices about its own defaults
            compiled = triton.compile(ASTSource(fn=kernel, signature=signature, constexprs=constexprs),
                                      target=GPUTarget("cuda", arch, 32), options={"num_warps": 4})
        assert compiled.asm["cubin"]

    blocks = dict(B_VARYING=b_varying, C_VARYING=c_varying, CHUNK_=scan_triton.CHUNK, BLOCK_D=32, BLOCK_N=16)
    for flag, softplus in itertools.product((True, False), (True, False)):
        shared = dict(blocks, HAS_BIAS=softplus, SOFTPLUS=softplus)
        compile_for(scan_triton._scan_forward_kernel, dict(shared, SAVE_CKPT=flag))
        compile_for(scan_triton._scan_backward_kernel, dict(shared, HAS_GLAST=flag))
    narrow = dict(blocks, HAS_BIAS=False, SOFTPLUS=True, BLOCK_D=4, BLOCK_N=4)
    compile_for(scan_triton._scan_forward_kernel, dict(narrow, SAVE_CKPT=True), dtype="fp64", arch=80)
    compile_for(scan_triton._scan_backward_kernel, dict(narrow, HAS_GLAST=False), dtype="fp64", arch=80)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_default_is_a_kernel_without_per_step_launches():
    u = torch.zeros(1, 4, 5, device="cuda")
    expected = "mamba_ssm" if mamba_ssm_available() else "triton" if triton_available() else "fused"
    assert resolve_backend(u) == expected
    assert resolve_backend(u.double()) == "fused"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("backend", ["fused", "triton", "mamba_ssm"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_cuda_backends_match_cpu_reference(backend, layout):
    if backend == "mamba_ssm" and not mamba_ssm_available():
        pytest.skip("mamba-ssm not installed")
    if backend == "triton" and not triton_available():
        pytest.skip("triton not installed")
    x = make_inputs(2, 64, 16, 300, layout_B=layout, dtype=torch.float32, seed=3)
    outputs = {}
    for where, fn, kw in (("cpu", selective_scan_ref, {}), ("cuda", selective_scan, {"backend": backend})):
        leaves = {k: v.to(where).requires_grad_() for k, v in x.items()}
        y, h = call(fn, leaves, True, True, True, True, last=True, **kw)
        (y.square().mean() + h.sum()).backward()   # the last state's gradient path too
        outputs[where] = [y, h] + [leaves[k].grad for k in ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")]
    for got, want in zip(outputs["cuda"], outputs["cpu"]):
        torch.testing.assert_close(got.detach().cpu(), want.detach(), atol=1e-4, rtol=1e-3)
