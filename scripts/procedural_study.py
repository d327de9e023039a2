"""The matched-budget study on the procedural world: InterMamba vs InterGen at one size, plus the ablations.

    python scripts/procedural_study.py train --runs ~/runs/study --steps 1500 --jobs 2   # resumable
    python scripts/procedural_study.py eval --runs ~/runs/study --only InterMamba,InterGen --also-guidance
    python scripts/procedural_study.py report --runs ~/runs/study

`train` runs `intermamba train` for every study config (configs/study_*.yaml: the same text encoder, data, diffusion
settings, batch, LR schedule, seed and step budget; only the model differs), `--jobs` at a time, each on one
thread (OMP_NUM_THREADS=1: on a small CPU one run per core is faster than one run on all of them). A killed run
continues where it stopped when the command is run again. `eval` scores every finished export in ONE protocol run
(the same captions, lengths and noise seeds for every model) with the shipped procedural-world evaluator and writes
results.json / results.md to the run folder (runs over subsets of the models merge into one table, since each
model's row is the same whatever else is evaluated). `report` draws the loss curves of every run on one plot and the
InterMamba run's fusion weights (Fig. 8), copies each run's fp16 export and metrics log into docs/results/, and
prints the table for docs/results/procedural-study.md.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
from pathlib import Path

STUDY = {   # row name -> config (configs/study_*.yaml)
    "InterMamba": "study_intermamba",
    "InterGen": "study_intergen",
    "w/o temporal SSM": "study_no_temporal",
    "fixed fusion": "study_fixed_fusion",
    "Self-ASTM only": "study_self_only",
    "w/o LIIA": "study_no_liia",
}
RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"
SMOOTH = 10   # logged rows (of 10 steps each) in the loss plot's moving average


def _train(args) -> None:
    names = [n for n in STUDY if not args.only or STUDY[n] in args.only.split(",")]
    procs: list[subprocess.Popen] = []
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for name in names:
        config = STUDY[name]
        cmd = [sys.executable, "-m", "intermamba.cli", "train", "--config", config, "--run-dir",
               str(args.runs / config), f"train.max_steps={args.steps}"]
        while len([p for p in procs if p.poll() is None]) >= args.jobs:
            procs[[p.poll() is None for p in procs].index(True)].wait()
        print("+", " ".join(cmd[1:]), flush=True)
        log = open(args.runs / f"{config}.log", "a")
        procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT))
    failed = [p.args[4] for p in procs if p.wait() != 0]
    if failed:
        sys.exit(f"training failed for {', '.join(failed)} (see {args.runs}/<config>.log)")


def _eval(args) -> None:
    import torch

    from intermamba import InterMambaPipeline, load_config
    from intermamba.data import build_dataset, collate
    from intermamba.evaluation import DEFAULT_EVALUATOR, Evaluator, evaluate, pipeline_generator, resolve_settings

    torch.set_num_threads(args.threads)
    wanted = args.only.split(",") if args.only else list(STUDY)
    pipes = {name: InterMambaPipeline.from_pretrained(args.runs / STUDY[name] / "export")
             for name in wanted if (args.runs / STUDY[name] / "export" / "config.json").is_file()}
    if not pipes:
        sys.exit(f"no finished exports under {args.runs} for {wanted}; run `train` first")
    cfg = load_config("study_intermamba", [f"eval.mm_num_samples={args.mm[0]}", f"eval.mm_num_repeats={args.mm[1]}",
                                           f"eval.mm_num_times={args.mm[2]}"])
    settings = resolve_settings(cfg.eval, replications=args.replications, max_items=args.max_items)
    first = next(iter(pipes.values()))
    evaluator = Evaluator.load(DEFAULT_EVALUATOR, text_encoder=first.text_encoder)
    dataset = build_dataset(cfg.data, "test")
    generators = {name: pipeline_generator(pipe, steps=args.sample_steps) for name, pipe in pipes.items()}
    for scale in args.also_guidance:      # the main pair again at other guidance scales (merging vs guidance)
        for name in ("InterMamba", "InterGen"):
            if name in pipes:
                generators[f"{name} (guidance {scale:g})"] = pipeline_generator(pipes[name], steps=args.sample_steps,
                                                                                guidance=scale)
    result = evaluate(dataset, evaluator, generators, settings, collate_fn=collate)
    result.info.update({"steps": args.sample_steps, "evaluator": str(DEFAULT_EVALUATOR), "split": "test"})
    # Every model meets the same captions, lengths and seeds whatever else is in the run, so runs over subsets
    # of the models are one table (`report` merges them and checks that their Real rows agree).
    json_path, md_path = result.save(args.runs / f"eval-{args.tag or '-'.join(STUDY[n] for n in pipes)}")
    print(result.to_markdown())
    print(f"wrote {json_path} and {md_path}")


def merged_results(runs: Path):
    """One EvalResult from every eval-*/results.json under `runs` (same settings and Real row required)."""
    import json

    from intermamba.evaluation.protocol import EvalResult, ProtocolSettings

    parts = [json.loads(path.read_text()) for path in sorted(runs.glob("eval-*/results.json"))]
    if not parts:
        return None
    base = parts[0]
    values, info = dict(base["replications"]), dict(base["info"])
    for part in parts[1:]:
        if part["settings"] != base["settings"] or part["replications"]["Real"] != base["replications"]["Real"]:
            sys.exit("eval runs with different settings cannot be merged into one table")
        values.update({row: v for row, v in part["replications"].items() if row != "Real"})
    order = ["Real"] + [row for name in STUDY for row in values if row == name or row.startswith(name + " (")]
    values = {row: values[row] for row in dict.fromkeys(order) if row in values}
    return EvalResult(values, ProtocolSettings(**base["settings"]), info)


def _losses(run: Path) -> tuple[list[int], list[float]]:
    steps, values = [], []
    for path in sorted((run / "logs").glob("version_*/metrics.csv")):
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                if row.get("train/simple"):
                    steps.append(int(float(row["step"])))
                    values.append(float(row["train/simple"]))
    order = sorted(range(len(steps)), key=steps.__getitem__)
    return [steps[i] for i in order], [values[i] for i in order]


def _copy_fp16_export(run: Path, dest: Path) -> None:
    """A finished run's inference export, in float16 (a few MB), for the repository; unfinished runs are skipped."""
    from intermamba.checkpoint import load_pretrained, read_meta, save_pretrained

    export = run / "export"
    if not (export / "config.json").is_file():
        return
    model, cfg, normalizer = load_pretrained(export)
    training = read_meta(export)["training"]
    if training["steps"] < cfg.train.max_steps:
        print(f"{run.name}: still training (step {training['steps']}); its export is not copied")
        return
    save_pretrained(dest, model, cfg, normalizer, fp16=True, extra=training)


def _report(args) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from intermamba.fusion_plot import plot_fusion

    out = RESULTS / "procedural-study"
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for name, config in STUDY.items():
        steps, values = _losses(args.runs / config)
        if not steps:
            continue
        k = min(SMOOTH, len(values))
        smooth = [sum(values[i:i + k]) / k for i in range(len(values) - k + 1)]       # moving average
        ax.plot(steps[k // 2:k // 2 + len(smooth)], smooth, label=name,
                lw=1.8 if name in ("InterMamba", "InterGen") else 1)
        _copy_fp16_export(args.runs / config, out / "exports" / config)
        logs = sorted((args.runs / config / "logs").glob("version_*/metrics.csv"))
        if logs:
            with open(out / f"{config}_metrics.csv", "w") as dst:
                for i, path in enumerate(logs):   # resumed runs log to several versions: one file, one header
                    lines = path.read_text().splitlines(keepends=True)
                    dst.writelines(lines if i == 0 else lines[1:])
    ax.set_xlabel("training step (batch 16)")
    ax.set_ylabel(f"simple loss (normalised, mean of {SMOOTH} logged steps)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "loss-curves.png")
    print(f"wrote {out / 'loss-curves.png'}")
    run = args.runs / STUDY["InterMamba"]
    if run.is_dir():
        print(f"wrote {plot_fusion(run, out / 'fusion-intermamba.png')}")
    result = merged_results(args.runs)
    if result is not None:
        json_path, md_path = result.save(out)
        print(result.to_markdown())
        print(f"wrote {json_path} and {md_path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    for verb in ("train", "eval", "report"):
        p = sub.add_parser(verb)
        p.add_argument("--runs", type=Path, default=Path("runs/study"), help="the study's run folders")
        if verb == "train":
            p.add_argument("--steps", type=int, default=1500, help="optimiser steps per run (the budget)")
            p.add_argument("--jobs", type=int, default=2, help="runs at a time, one thread each")
            p.add_argument("--only", help="comma-separated config names")
        if verb == "eval":
            p.add_argument("--replications", type=int, default=3)
            p.add_argument("--sample-steps", type=int, default=10, help="DDIM steps (10: the CPU-sized protocol)")
            p.add_argument("--max-items", type=int, default=96, help="test items (96: one R-Precision batch)")
            p.add_argument("--only", help="comma-separated row names (default: every finished run)")
            p.add_argument("--tag", help="name of this eval run's folder, eval-TAG")
            p.add_argument("--mm", type=int, nargs=3, default=(10, 5, 5), metavar=("TEXTS", "REPEATS", "PAIRS"),
                           help="MModality: texts x generations x index pairs")
            p.add_argument("--threads", type=int, default=2)
            p.add_argument("--also-guidance", type=float, nargs="*", default=[],
                           help="extra rows: InterMamba and InterGen at these guidance scales (default 1.0)")
    args = parser.parse_args()
    args.runs = args.runs.expanduser()
    args.runs.mkdir(parents=True, exist_ok=True)
    {"train": _train, "eval": _eval, "report": _report}[args.verb](args)


if __name__ == "__main__":
    main()
