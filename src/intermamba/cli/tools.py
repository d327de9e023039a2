"""Verbs about configs and speed: info, bench and build-kernels."""

from __future__ import annotations

from .errors import CLIError
from .threads import add_threads_argument, apply_threads


# ------------------------------------------------------------------------------------------------ info
def _add_info(sub):
    p = sub.add_parser("info", help="print a config's parameters by module and the selective-scan backend in use")
    p.add_argument("config", nargs="?", default="demo", help="config name or YAML path (default: demo)")
    p.add_argument("overrides", nargs="*", help="section.key=value overrides")


def _run_info(args):
    from ..config import load_config
    from ..model import build_model, parameter_table
    from ..ops import backend_report

    cfg = load_config(args.config, args.overrides)
    print(parameter_table(build_model(cfg), cfg))
    print("\n".join(backend_report()))


# ----------------------------------------------------------------------------------------------- bench
def _add_bench(sub):
    p = sub.add_parser("bench", help="parameters, FLOPs, time and memory per config beside the InterGen baseline")
    p.add_argument("--configs", default="paper,ultralight,demo,intergen",
                   help="comma-separated config names or YAML paths (default: paper,ultralight,demo,intergen)")
    p.add_argument("--baseline", default="intergen", help="config the ratios divide by ('none': no ratios)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    p.add_argument("--dtype", default="fp32", choices=["fp32", "bf16", "fp16"], help="model dtype (bf16: GPU)")
    p.add_argument("--compile", action="store_true", help="torch.compile each model first (slow to start)")
    p.add_argument("--frames", type=int, default=300, help="sequence length of the main measurements")
    p.add_argument("--repeats", type=int, default=None, help="timed denoiser calls per config (default 5; quick 2)")
    p.add_argument("--sample-steps", type=int, default=None, help="DDIM steps per sample (default 50; quick 10)")
    p.add_argument("--sample-repeats", type=int, default=None, help="timed samples per config (default 2; quick 1)")
    p.add_argument("--sweep", default=None,
                   help="comma-separated lengths for the sweep ('' for none; default 75,150,300,600,1200; "
                        "quick 75,150,300)")
    p.add_argument("--quick", action="store_true", help="few repeats, 10 DDIM steps, a short sweep")
    p.add_argument("--json", default=None, help="write the result here (JSON)")
    p.add_argument("--plot", default=None, help="write the sweep plot here (PNG)")
    p.add_argument("--scan", action="store_true", help="only the selective-scan micro-benchmark")
    p.add_argument("--render", action="store_true",
                   help="only the video renderer: ms per frame and seconds per 7 s mp4 clip of two people")
    p.add_argument("--scan-backend", default="auto",
                   help="selective-scan backend for the model runs: auto (mamba_ssm, else triton on CUDA; native, "
                        "else fused on CPU), ref, fused, native, triton or mamba_ssm")
    add_threads_argument(p, default_help="torch's choice; OMP_NUM_THREADS if set")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _default(value, default):
    return default if value is None else value


def _run_bench(args):
    from .. import bench
    from ..ops import scan_backend

    for flag in ("frames", "repeats", "sample_steps", "sample_repeats"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise CLIError(f"--{flag.replace('_', '-')} must be at least 1, got {value}")
    apply_threads(args.threads, pick_default=False)
    progress = not args.no_progress
    if args.render:
        result = bench.render_benchmark(repeats=_default(args.repeats, 1 if args.quick else 3))
        print(bench.format_render(result))
        if args.json:
            bench.write_json({"render": result}, args.json)
        return
    if args.scan:
        shapes = bench.SCAN_SHAPES[:1] if args.quick else bench.SCAN_SHAPES
        rows = bench.scan_benchmark(shapes, backends=bench.scan_backends_for(args.device),
                                    repeats=_default(args.repeats, 2 if args.quick else 3), device=args.device,
                                    progress=progress)
        print(bench.format_scan_table(rows))
        if args.json:
            bench.write_json({"scan": rows}, args.json)
        return
    try:
        sweep = [int(n) for n in args.sweep.split(",") if n.strip()] if args.sweep is not None else \
            list(bench.QUICK_SWEEP_FRAMES if args.quick else bench.SWEEP_FRAMES)
    except ValueError:
        raise CLIError(f"--sweep must be comma-separated integers, got {args.sweep!r}") from None
    if any(n < 1 for n in sweep):
        raise CLIError(f"--sweep lengths must be at least 1, got {args.sweep!r}")
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    baseline = None if args.baseline.lower() == "none" else args.baseline
    usable = ["auto", *bench.scan_backends_for(args.device)]
    if args.scan_backend not in usable:
        raise CLIError(f"--scan-backend {args.scan_backend!r} cannot run on {args.device} here; choose one of "
                       f"{', '.join(usable)}")
    try:
        with scan_backend(args.scan_backend):
            result = bench.run_bench(
                configs, baseline=baseline, frames=args.frames, device=args.device, dtype=args.dtype,
                compile_model=args.compile, repeats=_default(args.repeats, 2 if args.quick else 5),
                sample_steps=_default(args.sample_steps, 10 if args.quick else 50),
                sample_repeats=_default(args.sample_repeats, 1 if args.quick else 2), sweep=sweep, progress=progress)
    except ValueError as err:
        raise CLIError(str(err)) from None
    print(bench.format_table(result))
    if args.json:
        bench.write_json(result, args.json)
    if args.plot:
        if not sweep:
            raise CLIError("--plot needs a sweep (give --sweep lengths)")
        bench.write_plot(result, args.plot)


# --------------------------------------------------------------------------------------- build-kernels
def _add_build_kernels(sub):
    p = sub.add_parser("build-kernels", help="compile the CPU selective-scan kernel for this Python, PyTorch and "
                                             "CPU (about a minute, once; runs use the slower PyTorch scan until then)")
    p.add_argument("--force", action="store_true", help="rebuild from scratch even when it is built")


def _run_build_kernels(args):
    from ..ops import KernelBuildError, build_native
    from ..ops.kernels import say
    from ..ops.scan_native import DISABLE_ENV, native_disabled

    try:
        result = build_native(force=args.force)   # says on stderr when it starts and when it is done
    except KernelBuildError as err:
        raise CLIError(str(err)) from None
    if not result.built:
        say(f"the compiled scan is already built: {result.path} (--force rebuilds it)")
    if native_disabled():
        say(f"{DISABLE_ENV} is set, so runs will not use it until it is unset")
