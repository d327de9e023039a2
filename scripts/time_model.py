"""Forward time of the denoiser (a measurement, not a test): batch 2, T = 300, CPU, torch.no_grad.

    OMP_NUM_THREADS=2 python scripts/time_model.py --configs paper,ultralight --repeats 5

Configs are timed interleaved (round robin) and the median is reported, so load from other processes hits all of
them alike. Prints one line per config: trainable parameters, median wall time (and its
minimum) and median CPU time (all threads) per denoiser call; on a shared machine the CPU time is the steadier one.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from intermamba import load_config
from intermamba.model import build_model, count_parameters

TEXT_TOKENS = 20   # a typical caption length in encoder tokens


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="paper,ultralight")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    runs = {}
    for name in args.configs.split(","):
        cfg = load_config(name)
        model = build_model(cfg).eval()
        x = torch.randn(args.batch, args.frames, 2, cfg.model.input_dim)
        t = torch.randint(0, cfg.diffusion.num_timesteps, (args.batch,))
        text = torch.randn(args.batch, TEXT_TOKENS, cfg.model.text_dim)
        runs[name] = (model, (x, t, text), [], [])
    with torch.no_grad():
        for model, call, _, _ in runs.values():          # warm-up
            model(*call)
        for _ in range(args.repeats):
            for model, call, wall, cpu in runs.values():
                start, start_cpu = time.perf_counter(), time.process_time()
                model(*call)
                wall.append(time.perf_counter() - start)
                cpu.append(time.process_time() - start_cpu)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch}, T {args.frames}")
    for name, (model, _, wall, cpu) in runs.items():
        print(f"{name:<12} {count_parameters(model) / 1e6:7.1f}M  wall median {statistics.median(wall):.3f} s "
              f"(min {min(wall):.3f} s), CPU time median {statistics.median(cpu):.3f} s per call")


if __name__ == "__main__":
    main()
