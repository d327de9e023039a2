"""FID, R-Precision and time per sample against sampler steps, for one model, in ONE protocol run.

    python scripts/steps_table.py --out docs/results/steps                   # the shipped demo, ddim + dpmpp
    python scripts/steps_table.py --steps 5,10,20,50 --samplers ddim,dpmpp --replications 2 --max-items 96

Every (sampler, steps) pair is a row of the same protocol run (same captions, lengths and noise seeds, same
Real row; intermamba.evaluation). Time per sample is the wall time of the pair's generation calls divided by
the samples they made, measured inside the run (so every row sees the same machine load); run it on a quiet
core (`taskset -c 1`, OMP_NUM_THREADS=1) for times worth comparing. Writes results.json / results.md and
steps.md (the table the README quotes) into --out.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import torch

from intermamba import InterMambaPipeline
from intermamba.data import build_dataset, collate
from intermamba.evaluation import DEFAULT_EVALUATOR, Evaluator, evaluate, pipeline_generator, resolve_settings
from intermamba.fileio import atomic_write_text


def timed(generate, clock: dict):
    """Wrap a protocol generator so that its seconds and samples add up in `clock`."""
    def run(texts, lengths, seed):
        tic = time.perf_counter()
        out = generate(texts, lengths, seed)
        clock["seconds"] += time.perf_counter() - tic
        clock["samples"] += len(texts)
        return out
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="exported model folder (default: the shipped demo)")
    parser.add_argument("--steps", default="5,10,20,50")
    parser.add_argument("--samplers", default="ddim,dpmpp")
    parser.add_argument("--spacings", default="intergen",
                        help="timestep spacings to compare (diffusion.timestep_spacing), comma-separated; rows of a "
                             "spacing other than the model's own are named '<sampler> <steps> <spacing>'")
    parser.add_argument("--replications", type=int, default=2)
    parser.add_argument("--max-items", type=int, default=96)
    parser.add_argument("--batch-size", type=int, help="R-Precision batch (default: the preset's 96)")
    parser.add_argument("--reference-fid", type=float,
                        help="the FID the ratios are taken against, when this run has no DDIM row at the most steps "
                             "(e.g. from an earlier run of the same protocol: seeds are fixed, so rows reproduce)")
    parser.add_argument("--out", required=True, help="folder for results.json, results.md and steps.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    pipe = InterMambaPipeline.from_pretrained(args.checkpoint)
    cfg = pipe.config
    # MModality is not part of this table: its smallest setting keeps the run short.
    eval_cfg = dataclasses.replace(cfg.eval, mm_num_samples=4, mm_num_repeats=2, mm_num_times=1)
    settings = resolve_settings(eval_cfg, replications=args.replications, max_items=args.max_items,
                                batch_size=args.batch_size)
    evaluator = Evaluator.load(DEFAULT_EVALUATOR, text_encoder=pipe.text_encoder)
    dataset = build_dataset(cfg.data, cfg.eval.split)
    clocks, generators = {}, {}
    for spacing in args.spacings.split(","):
        spaced = pipe
        if spacing != cfg.diffusion.timestep_spacing:     # a pipeline of its own: the sampler is built per config
            spaced = InterMambaPipeline.from_pretrained(args.checkpoint, text_encoder=pipe.text_encoder)
            spaced.config.diffusion.timestep_spacing = spacing
        suffix = "" if spaced is pipe else f" {spacing}"
        for sampler in args.samplers.split(","):
            for steps in (int(s) for s in args.steps.split(",")):
                name = f"{sampler} {steps}{suffix}"
                clocks[name] = {"seconds": 0.0, "samples": 0}
                generators[name] = timed(pipeline_generator(spaced, steps=steps, sampler=sampler), clocks[name])
    result = evaluate(dataset, evaluator, generators, settings, collate_fn=collate, progress=True)
    result.info.update({"checkpoint": pipe.source, "guidance": cfg.diffusion.guidance,
                        "placement_guidance": cfg.diffusion.placement_guidance,
                        "seconds_per_sample": {k: c["seconds"] / max(c["samples"], 1) for k, c in clocks.items()}})
    out = Path(args.out)
    result.save(out)
    summary = result.summary()
    reference = summary.get(f"ddim {max(int(s) for s in args.steps.split(','))}", {}).get("fid", {}).get("mean")
    if args.reference_fid:
        reference = args.reference_fid
    lines = ["| sampler | steps | spacing | FID ↓ | FID vs DDIM-max | R-Precision top 3 ↑ | s per sample |",
             "|---|---|---|---|---|---|---|"]
    for name, clock in clocks.items():
        sampler, steps, *spacing = name.split()
        fid, top3 = summary[name]["fid"], summary[name]["r_precision_top3"]
        ratio = f"{fid['mean'] / reference - 1:+.1%}" if reference else "-"
        spacing = spacing[0] if spacing else cfg.diffusion.timestep_spacing
        lines.append(f"| {sampler} | {steps} | {spacing} | {fid['mean']:.1f} ± {fid['ci']:.1f} | {ratio} | "
                     f"{top3['mean']:.3f} ± {top3['ci']:.3f} | {clock['seconds'] / max(clock['samples'], 1):.3f} |")
    real = summary["Real"]
    lines.append(f"| Real | | | {real['fid']['mean']:.1f} | | {real['r_precision_top3']['mean']:.3f} | |")
    atomic_write_text(out / "steps.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
