"""`intermamba bench`: InterMamba beside the InterGen baseline, measured in one run (paper Table 3's columns).

Per config: trainable parameters, FLOPs of one denoiser call, the time of one denoiser call and of one full
sample (DDIM with classifier-free guidance, the cond and null halves batched: one call per step), peak memory,
each as a ratio to the baseline measured in the same run; then a sweep over sequence length. Configs are timed
interleaved (round robin, one repetition of each in turn) and medians are reported, so load from other processes
hits every config alike. `scan_benchmark` times the selective-scan backends against each other;
`render_benchmark` times the video renderer on a clip of two people.

    result = run_bench(["paper", "ultralight", "demo", "intergen"], frames=300, repeats=3)
    write_json(result, "bench.json"); write_plot(result, "bench.png")
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import os
import statistics
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence, Union

import torch

from .config import Config, load_config
from .diffusion import DDIMSampler, GaussianDiffusion, conditioned
from .fileio import atomic_path
from .model import build_model, count_parameters
from .ops import (mamba_ssm_available, native_available, resolve_backend, scan_backend, selective_scan,
                  triton_available)

NUM_PERSONS = 2
TEXT_TOKENS = 20                         # a typical caption's length in encoder tokens
SWEEP_FRAMES = (75, 150, 300, 600, 1200)
QUICK_SWEEP_FRAMES = (75, 150, 300)
SCAN_SHAPES = ((2, 300, 512), (8, 300, 1024), (600, 22, 256))   # (batch, L, channels), as in the facts file
SCAN_D_STATE = 16
HEAP_POLL_S = 0.001                      # CPU peak memory: malloc's in-use bytes sampled this often during a call
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


# -------------------------------------------------------------------------------------------- timing
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn: Callable[[], object], device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


def _heap_reader() -> Optional[Callable[[], int]]:
    """Bytes currently allocated by malloc (glibc's mallinfo2: arena blocks in use + mmapped blocks), or None.

    The resident set would miss a call's peak: memory freed by an earlier call stays resident and is reused.
    """
    try:
        libc = ctypes.CDLL(None)
        mallinfo2 = libc.mallinfo2
    except (OSError, AttributeError):
        return None
    mallinfo2.restype = _MallInfo2

    def in_use() -> int:
        info = mallinfo2()
        return info.uordblks + info.hblkhd
    return in_use


def peak_memory(fn: Callable[[], object], device: torch.device) -> Optional[int]:
    """Bytes a call adds at its peak: CUDA's allocator peak, or on CPU malloc's in-use bytes sampled by a thread."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    in_use = _heap_reader()
    if in_use is None:
        return None
    before = in_use()
    peak, done = [before], threading.Event()

    def poll():
        while not done.is_set():
            peak[0] = max(peak[0], in_use())
            time.sleep(HEAP_POLL_S)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        fn()
    finally:
        done.set()
        thread.join()
    return max(peak[0], in_use()) - before


def count_flops(fn: Callable[[], object]) -> int:
    """FLOPs torch's FlopCounterMode attributes to a call (matmuls, convolutions, attention; not elementwise)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return counter.get_total_flops()


# -------------------------------------------------------------------------------------------- models
@dataclasses.dataclass
class _Subject:
    """One config under test: its model and the closures the harness times."""
    name: str
    cfg: Config
    model: torch.nn.Module
    call: Callable[[], object]      # one denoiser call: the guidance pair (batch 2) at `frames`
    sample: Callable[[], object]    # one full guided DDIM sample (batch 1)
    eager_call: Callable[[], object]  # `call` without torch.compile: FLOPs are counted here (the counter's
                                      # module hooks would fire twice through a compiled module)


def _is_path(name: str) -> bool:
    return name.endswith((".yaml", ".yml")) or os.sep in name


def _label(config: Union[str, Config], cfg: Config) -> str:
    """The row name: a shipped config's name as given, a YAML path's or a Config's own name."""
    return config if isinstance(config, str) and not _is_path(config) else cfg.name


def _resolve(config: Union[str, Config], overrides: Sequence[str] = ()) -> Config:
    return config if isinstance(config, Config) else load_config(config, list(overrides))


def _inputs(cfg: Config, frames: int, batch: int, device, dtype, generator):
    x = torch.randn(batch, frames, NUM_PERSONS, cfg.model.input_dim, generator=generator).to(device, dtype)
    t = torch.randint(0, cfg.diffusion.num_timesteps, (batch,), generator=generator).to(device)
    text = torch.randn(batch, TEXT_TOKENS, cfg.model.text_dim, generator=generator).to(device, dtype)
    return x, t, text


def _subject(name: str, cfg: Config, *, frames: int, sample_steps: int, device, dtype, compile_model: bool,
             seed: int) -> _Subject:
    torch.manual_seed(seed)
    eager = build_model(cfg).to(device=device, dtype=dtype).eval()
    model = torch.compile(eager) if compile_model else eager
    gen = torch.Generator().manual_seed(seed)
    x, t, text = _inputs(cfg, frames, NUM_PERSONS, device, dtype, gen)   # cond + null: one batched call
    drop = torch.tensor([False, True], device=device)

    def call(net=model):
        with torch.inference_mode():
            return net(x, t, text, drop_text=drop)

    diffusion = GaussianDiffusion.from_config(cfg.diffusion)
    sampler = DDIMSampler(diffusion, sample_steps, cfg.diffusion.eta)
    denoise = conditioned(model, text_features=text[:1])

    def sample():
        with torch.inference_mode():
            return sampler.sample(denoise, (1, frames, NUM_PERSONS, cfg.model.input_dim),
                                  guidance=cfg.diffusion.guidance, generator=torch.Generator().manual_seed(seed),
                                  device=device, dtype=dtype)

    return _Subject(name, cfg, eager, call, sample, eager_call=lambda: call(eager))


def _round_robin(subjects: Sequence[_Subject], what: str, repeats: int, device, tick: Callable[[], None]) -> dict:
    """Median seconds of `what` ("call" or "sample") per subject, repetitions interleaved across subjects."""
    times = {s.name: [] for s in subjects}
    for _ in range(repeats):
        for s in subjects:
            times[s.name].append(_timed(getattr(s, what), device))
            tick()
    return {name: statistics.median(ts) for name, ts in times.items()}


def _sweep_config(cfg: Config, frames: int) -> tuple[Config, str]:
    """The config timed at `frames`: beyond the frames-spatial window, the joint-token spatial variant."""
    m = cfg.model
    if m.arch == "intermamba" and m.spatial_mode == "frames" and frames > m.max_frames:
        return dataclasses.replace(cfg, model=dataclasses.replace(m, spatial_mode="joints")), "joints"
    return cfg, (m.spatial_mode if m.arch == "intermamba" else m.arch)


# -------------------------------------------------------------------------------------------- harness
def run_bench(configs: Iterable[Union[str, Config]], *, baseline: Optional[str] = "intergen", frames: int = 300,
              repeats: int = 3, sample_steps: int = 50, sample_repeats: Optional[int] = None,
              sweep: Sequence[int] = SWEEP_FRAMES, sweep_repeats: int = 1, device: Union[str, torch.device] = "cpu",
              dtype: str = "fp32", compile_model: bool = False, seed: int = 0,
              progress: bool = True) -> dict:
    """Measure every config (names or Config objects) and return the result as a JSON-ready dict.

    `baseline` names the config the ratios divide by (it must be among `configs`; None: no ratios).
    """
    device = torch.device(device)
    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPES)}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but torch sees no CUDA device; use --device cpu")
    torch_dtype = DTYPES[dtype]
    cfgs = {}
    for c in configs:
        cfg = _resolve(c)
        cfgs[_label(c, cfg)] = cfg
    if baseline is not None and _is_path(baseline):
        baseline = _resolve(baseline).name
    if baseline is not None and baseline not in cfgs:
        raise ValueError(f"baseline {baseline!r} is not among the configs {list(cfgs)}: add it to --configs")
    sample_repeats = sample_repeats or max(1, repeats // 2)
    steps_total = len(cfgs) * (2 + repeats + sample_repeats) + len(cfgs) * len(sweep) * (1 + sweep_repeats)
    bar = _progress(steps_total, progress)

    def tick(label: str = ""):
        if label:
            bar.set_description(label)
        bar.update(1)

    subjects = [_subject(name, cfg, frames=frames, sample_steps=sample_steps, device=device, dtype=torch_dtype,
                         compile_model=compile_model, seed=seed) for name, cfg in cfgs.items()]
    rows = {}
    for s in subjects:                                               # warm-up, FLOPs and memory, one at a time
        tick(f"{s.name}: warm-up")
        s.call()
        with torch.inference_mode():
            flops = count_flops(s.eager_call)
        memory = peak_memory(s.call, device)
        tick(f"{s.name}: flops/memory")
        rows[s.name] = dict(config=s.cfg.name, arch=s.cfg.model.arch, params=count_parameters(s.model),
                            flops_per_call=flops, peak_memory_bytes=memory)
    bar.set_description("denoiser calls")
    for name, sec in _round_robin(subjects, "call", repeats, device, tick).items():
        rows[name]["call_s"] = sec
    bar.set_description("full samples")
    for name, sec in _round_robin(subjects, "sample", sample_repeats, device, tick).items():
        rows[name]["sample_s"] = sec
    del subjects

    sweep_rows = {name: [] for name in cfgs}
    for n in sweep:                                                  # per length, every config in turn
        at_n = []
        for name, cfg in cfgs.items():
            cfg_n, variant = _sweep_config(cfg, n)
            at_n.append((_subject(name, cfg_n, frames=n, sample_steps=1, device=device, dtype=torch_dtype,
                                  compile_model=compile_model, seed=seed), variant))
            at_n[-1][0].call()                                        # warm-up
            tick(f"sweep T={n}: {name}")
        medians = _round_robin([s for s, _ in at_n], "call", sweep_repeats, device, tick)
        for s, variant in at_n:
            sweep_rows[s.name].append(dict(frames=n, variant=variant, call_s=medians[s.name]))
        del at_n
    bar.close()

    if baseline is not None:
        base = rows[baseline]
        for row in rows.values():
            row["ratios"] = {key: _ratio(row[key], base[key])
                             for key in ("params", "flops_per_call", "call_s", "sample_s", "peak_memory_bytes")}
        base_sweep = {r["frames"]: r["call_s"] for r in sweep_rows[baseline]}
        for runs in sweep_rows.values():
            for r in runs:
                r["ratio"] = _ratio(r["call_s"], base_sweep[r["frames"]])
    return dict(
        settings=dict(frames=frames, repeats=repeats, sample_repeats=sample_repeats, sample_steps=sample_steps,
                      guidance_batched=True, batch=1, device=str(device), dtype=dtype, compile=compile_model,
                      baseline=baseline, sweep_repeats=sweep_repeats, text_tokens=TEXT_TOKENS),
        environment=_environment(device),
        configs=rows,
        sweep=sweep_rows,
    )


def _ratio(value, base):
    return None if value is None or not base else value / base


def _environment(device: torch.device) -> dict:
    env = dict(torch=torch.__version__, threads=torch.get_num_threads(), cpu_count=os.cpu_count(),
               scan_backend=resolve_backend(torch.empty(0, device=device)))
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    return env


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, unit="run", leave=False)


# -------------------------------------------------------------------------------------------- scan
def scan_backends_for(device: Union[str, torch.device]) -> list[str]:
    """The scan backends that can run on `device`: ref and fused always, then native (CPU), triton, mamba_ssm (CUDA)."""
    on_cuda = torch.device(device).type == "cuda"
    return ["ref", "fused"] + (["native"] if not on_cuda and native_available() else []) + \
        (["triton"] if on_cuda and triton_available() else []) + \
        (["mamba_ssm"] if on_cuda and mamba_ssm_available() else [])


def scan_benchmark(shapes: Sequence[tuple[int, int, int]] = SCAN_SHAPES, *, d_state: int = SCAN_D_STATE,
                   backends: Sequence[str] = ("ref", "fused"), repeats: int = 3, backward: bool = True,
                   device: Union[str, torch.device] = "cpu", max_ref_backward_elems: int = 2 * 300 * 512,
                   progress: bool = True) -> list[dict]:
    """Median ms of selective_scan per backend: forward (no grad) and forward+backward, input-dependent B, C.

    The reference's backward is slow by design (its per-step indexing costs O(L^2) in autograd); it is timed only
    for shapes up to `max_ref_backward_elems` = batch * L * channels.
    """
    device = torch.device(device)
    rows = []
    bar = _progress(len(shapes) * len(backends) * (2 if backward else 1) * repeats, progress)
    for batch, length, dim in shapes:
        gen = torch.Generator().manual_seed(0)
        args = [torch.randn(batch, dim, length, generator=gen), torch.randn(batch, dim, length, generator=gen),
                -torch.rand(dim, d_state, generator=gen) - 0.1, torch.randn(batch, d_state, length, generator=gen),
                torch.randn(batch, d_state, length, generator=gen), torch.randn(dim, generator=gen),
                torch.randn(batch, dim, length, generator=gen), torch.randn(dim, generator=gen)]
        args = [a.to(device) for a in args]
        row = dict(shape=[batch, length, dim], d_state=d_state, ms={b: {} for b in backends})
        for mode in (("fwd", "fwd_bwd") if backward else ("fwd",)):
            for b in backends:                                        # warm-up (allocator, first-call costs)
                if not (mode == "fwd_bwd" and b == "ref" and batch * length * dim > max_ref_backward_elems):
                    _scan_once(args, b, mode == "fwd_bwd")
            times = {b: [] for b in backends}
            for _ in range(repeats):
                for b in backends:                                    # interleaved
                    bar.set_description(f"scan {batch}x{length}x{dim} {b} {mode}")
                    if mode == "fwd_bwd" and b == "ref" and batch * length * dim > max_ref_backward_elems:
                        bar.update(1)
                        continue
                    times[b].append(_timed(lambda: _scan_once(args, b, mode == "fwd_bwd"), device))
                    bar.update(1)
            for b, ts in times.items():
                row["ms"][b][mode] = 1e3 * statistics.median(ts) if ts else None
        rows.append(row)
    bar.close()
    return rows


def _scan_once(args, backend: str, backward: bool):
    if not backward:
        with torch.inference_mode():
            return selective_scan(*args, delta_softplus=True, backend=backend)
    leaves = [a.detach().requires_grad_() for a in args]
    with scan_backend(backend):
        y = selective_scan(*leaves, delta_softplus=True)
    y.sum().backward()


# -------------------------------------------------------------------------------------------- render
RENDER_SECONDS = 7.0


def render_benchmark(seconds: float = RENDER_SECONDS, *, repeats: int = 3, kind: str = "chase") -> dict:
    """Median time of render.render_video on two people `seconds` long at 30 fps (a procedural-world item of
    `kind`, played forth and back to the length): ms per frame drawn (no encoding) and seconds per mp4 clip
    (frames and H.264 encoding, as `generate` writes it)."""
    import tempfile

    import numpy as np

    from . import render
    from .data.synthetic import generate
    from .skeleton import FPS

    frames = max(1, round(seconds * FPS))
    clip = np.asarray(generate(0, kind=kind).positions, dtype=np.float32)            # (2, T, 22, 3)
    while clip.shape[1] < frames:
        clip = np.concatenate([clip, clip[:, ::-1]], 1)
    clip = clip[:, :frames]
    text = f"benchmark: two people, {kind}, {frames} frames"
    draw_ms, clip_s, cpu_s = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            scene = render._Scene(clip, title=text, size=render.VIDEO_SIZE, trajectory=False)
            start = time.perf_counter()
            for t in range(frames):
                scene.frame(t)
            draw_ms.append(1000 * (time.perf_counter() - start) / frames)
            start, cpu = time.perf_counter(), _cpu_seconds()
            render.render_video(clip, Path(tmp) / "clip.mp4", title=text)
            clip_s.append(time.perf_counter() - start)
            cpu_s.append(_cpu_seconds() - cpu)
    return {"frames": frames, "size": list(render.VIDEO_SIZE), "ms_per_frame": statistics.median(draw_ms),
            "seconds_per_clip": statistics.median(clip_s), "cpu_seconds_per_clip": statistics.median(cpu_s),
            "repeats": repeats, "threads": torch.get_num_threads(),
            "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()}


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (ffmpeg): what a clip costs on a machine that is busy."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def format_render(result: dict) -> str:
    w, h = result["size"]
    return (f"render: {result['ms_per_frame']:.1f} ms per {w}x{h} frame drawn; {result['seconds_per_clip']:.2f} s "
            f"per {result['frames'] / 30:.0f} s mp4 clip ({result['frames']} frames, drawn and encoded; "
            f"{result['cpu_seconds_per_clip']:.2f} s of CPU time with ffmpeg's); medians of {result['repeats']}, "
            f"{result['cpus']} usable CPU core(s)")


# -------------------------------------------------------------------------------------------- output
def _atomic_write(path: Union[str, Path], write: Callable[[str], None]) -> None:
    with atomic_path(path) as tmp:
        write(str(tmp))


def write_json(result: dict, path: Union[str, Path]) -> None:
    def write(tmp):
        Path(tmp).write_text(json.dumps(result, indent=2) + "\n")
    _atomic_write(path, write)


def write_plot(result: dict, path: Union[str, Path]) -> None:
    """Time per denoiser call against sequence length (log-log), one line per config."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for name, runs in result["sweep"].items():
        if not runs:
            continue
        frames = [r["frames"] for r in runs]
        ax.plot(frames, [r["call_s"] for r in runs], marker="o", label=name)
        for r in runs:  # mark where the sweep switched to another variant (frames window -> joint tokens)
            if r["variant"] != runs[0]["variant"]:
                ax.annotate(r["variant"], (r["frames"], r["call_s"]), fontsize=7, textcoords="offset points",
                            xytext=(3, -9))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("frames T")
    ax.set_ylabel("seconds per denoiser call (guidance pair)")
    env = result["environment"]
    ax.set_title(f"{result['settings']['device']} {result['settings']['dtype']}, torch {env['torch']}, "
                 f"{env['threads']} threads", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    _atomic_write(path, lambda tmp: fig.savefig(tmp, format=Path(path).suffix.lstrip(".") or "png", dpi=120))
    plt.close(fig)


def format_table(result: dict) -> str:
    """A human-readable summary of `run_bench`'s result."""
    s = result["settings"]
    lines = [f"device {s['device']} ({result['environment']['threads']} threads), {s['dtype']}, T={s['frames']}, "
             f"{s['sample_steps']} DDIM steps with guidance (cond+null batched), medians of {s['repeats']} calls / "
             f"{s['sample_repeats']} samples, baseline {s['baseline']}"]
    header = f"{'config':<12} {'params':>9} {'GFLOPs':>8} {'call s':>8} {'sample s':>9} {'peak MB':>8}"
    has_ratios = s["baseline"] is not None
    if has_ratios:
        header += f"  {'x params':>8} {'x call':>7} {'x sample':>8}"
    lines += [header, "-" * len(header)]
    for name, r in result["configs"].items():
        mem = "-" if r["peak_memory_bytes"] is None else f"{r['peak_memory_bytes'] / 2**20:.0f}"
        line = (f"{name:<12} {r['params'] / 1e6:8.1f}M {r['flops_per_call'] / 1e9:8.1f} {r['call_s']:8.3f} "
                f"{r['sample_s']:9.2f} {mem:>8}")
        if has_ratios:
            q = r["ratios"]
            line += f"  {q['params']:8.2f} {q['call_s']:7.2f} {q['sample_s']:8.2f}"
        lines.append(line)
    if any(result["sweep"].values()):
        frames = [r["frames"] for r in next(iter(result["sweep"].values()))]
        lines += ["", "seconds per denoiser call by sequence length" + (" (ratio to baseline)" if has_ratios else "")]
        lines.append(f"{'config':<12} " + " ".join(f"{n:>14}" for n in frames))
        for name, runs in result["sweep"].items():
            cells = [f"{r['call_s']:.3f}" + (f" ({r['ratio']:.2f})" if has_ratios else "") for r in runs]
            lines.append(f"{name:<12} " + " ".join(f"{c:>14}" for c in cells))
    return "\n".join(lines)


def format_scan_table(rows: list[dict]) -> str:
    """scan_benchmark's rows as a table: ms forward / forward+backward per backend, and each one's speed-up over ref."""
    backends = list(rows[0]["ms"]) if rows else []
    fast = [b for b in backends if b != "ref"]
    lines = ["selective scan, median ms, forward (no grad) / forward+backward, d_state "
             f"{rows[0]['d_state'] if rows else SCAN_D_STATE}, input-dependent B and C"]
    lines.append(f"{'batch x L x channels':<22} " + " ".join(f"{b:>14}" for b in backends)
                 + "".join(f"  {'ref/' + b:>14}" for b in fast))
    for r in rows:
        cells = [" / ".join("-" if v is None else f"{v:.0f}" for v in (ms.get("fwd"), ms.get("fwd_bwd")))
                 for ms in r["ms"].values()]
        ref = r["ms"].get("ref", {})
        speedups = [" / ".join("-" if not (ref.get(m) and r["ms"][b].get(m)) else f"{ref[m] / r['ms'][b][m]:.1f}x"
                               for m in ("fwd", "fwd_bwd")) for b in fast]
        lines.append(f"{'x'.join(map(str, r['shape'])):<22} " + " ".join(f"{c:>14}" for c in cells)
                     + "".join(f"  {c:>14}" for c in speedups))
    return "\n".join(lines)


__all__ = ["run_bench", "scan_benchmark", "render_benchmark", "format_render", "write_json", "write_plot", "format_table", "format_scan_table",
           "peak_memory", "count_flops"]
