"""Verbs that measure: train-evaluator and eval."""

from __future__ import annotations

import argparse

from .errors import CLIError
from .threads import add_threads_argument, apply_threads


# ------------------------------------------------------------------------------------- evaluation
def _add_train_evaluator(sub):
    p = sub.add_parser("train-evaluator", help="train the evaluator (InterCLIP) contrastively on a dataset",
                       description="Train the text-motion evaluator that the metrics are computed with, on the "
                                   "train split of the config's dataset; writes OUT/evaluator.safetensors.")
    p.add_argument("--config", default="demo", help="config name or YAML path: its data, text and eval "
                                                    "sections are used (default: demo)")
    p.add_argument("overrides", nargs="*", help="section.key=value overrides, e.g. eval.evaluator_steps=500")
    p.add_argument("--out", help="output folder (default: evaluators/<config name>)")
    p.add_argument("--preset", choices=["interclip", "small", "tiny"], help="evaluator size (default: eval.evaluator)")
    p.add_argument("--steps", type=int, help="optimiser steps (default: eval.evaluator_steps)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")


def _run_train_evaluator(args):
    from ..config import load_config
    from ..evaluation import train_evaluator

    overrides = list(args.overrides)
    if args.preset:
        overrides.append(f"eval.evaluator={args.preset}")
    if args.steps is not None:
        if args.steps < 1:
            raise CLIError(f"--steps must be at least 1, got {args.steps}")
        overrides.append(f"eval.evaluator_steps={args.steps}")
    cfg = load_config(args.config, overrides)
    out = args.out or f"evaluators/{cfg.name}"
    try:
        path = train_evaluator(cfg, out, device=args.device)
    except ValueError as err:
        raise CLIError(str(err)) from None
    import json
    from pathlib import Path

    report = json.loads((Path(out) / "evaluator.json").read_text())
    if "val" in report:
        top = " / ".join(f"{v:.3f}" for v in report["val"]["r_precision"])
        chance = " / ".join(f"{v:.3f}" for v in report["val"]["r_precision_shuffled"])
        print(f"validation R-Precision top 1/2/3: {top} (shuffled texts: {chance})")
    print(f"wrote {path}")


def _add_eval(sub):
    p = sub.add_parser("eval", help="the InterGen evaluation protocol: FID, R-Precision, MM Dist, Diversity, "
                                    "MModality (Table 1)",
                       description="Generate every test item at its ground-truth length, embed with the evaluator "
                                   "and report mean and 95%% confidence interval over replications, with a 'Real' "
                                   "row; writes OUT/results.json and OUT/results.md.")
    p.add_argument("--checkpoint", action="append", help="exported model folder (default: the shipped demo "
                        "model); repeat it to score several models in one run (the same captions, lengths and seeds)")
    p.add_argument("--evaluator", help="evaluator.safetensors from `intermamba train-evaluator`, or InterGen's "
                                       "interclip.ckpt (default: the shipped procedural-world evaluator, if any)")
    p.add_argument("--dataset", help="synthetic, or NAME:ROOT with NAME interhuman, interx or bvh "
                                     "(default: the checkpoint's data section)")
    p.add_argument("--split", help="split to evaluate (default: eval.split, test)")
    p.add_argument("--replications", type=int, help="replications (default 20)")
    p.add_argument("--preset", choices=["interhuman", "interx"], help="metric preset (default: eval.preset)")
    p.add_argument("--batch-size", type=int, help="R-Precision batch (default: the preset's 96 or 32)")
    p.add_argument("--max-items", type=int, help="evaluate at most this many items of the split")
    p.add_argument("--quick", action="store_true", help="a small, fast version (smoke tests, CI): 2 replications "
                                                        "of at most 32 items, MModality 4 x 4 x 2, 10 DDIM steps")
    p.add_argument("--real-only", action="store_true", help="only the Real row (checks an evaluator; no model)")
    p.add_argument("--seed", type=int, help="protocol seed (default: eval.seed)")
    p.add_argument("--steps", type=int, help="DDIM steps (default: the model's)")
    p.add_argument("--guidance", type=float, help="guidance scale (default: the model's)")
    p.add_argument("--sampler", default="ddim", choices=["ddim", "dpmpp"], help="ddim (default) or dpmpp")
    p.add_argument("--placement-guidance", type=float, metavar="S",
                   help="guidance scale of where the people stand (default: the model's; see generate)")
    p.add_argument("--reference-anchor", action=argparse.BooleanOptionalAction, default=None,
                   help="hold one person at the origin at frame 0 while sampling (default: the model's; see generate)")
    p.add_argument("--name", action="append", help="the model's row name (default: the checkpoint folder's name); "
                                                   "one per --checkpoint when repeated")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto")
    add_threads_argument(p)
    p.add_argument("--out", help="output folder (default: eval/<name>)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("overrides", nargs="*", help="section.key=value overrides of the checkpoint's config, "
                                                "e.g. eval.mm_num_samples=20 eval.gen_batch_size=64")


def _eval_data_config(spec, data_cfg):
    """`synthetic` or `NAME:ROOT` -> the data section to read the split with (other fields kept)."""
    import dataclasses

    from ..data import DATASETS

    name, _, root = spec.partition(":")
    if name not in DATASETS:
        raise CLIError(f"unknown dataset {name!r} in --dataset {spec!r}; use synthetic or NAME:ROOT with NAME one "
                       f"of {', '.join(d for d in DATASETS if d != 'synthetic')}")
    if name != "synthetic" and not root:
        raise CLIError(f"--dataset {name} needs its folder: --dataset {name}:PATH")
    return dataclasses.replace(data_cfg, dataset=name, root=root or data_cfg.root)


def _run_eval(args):
    import dataclasses
    from pathlib import Path

    from ..config import load_config
    from ..data import build_dataset, collate
    from ..evaluation import DEFAULT_EVALUATOR, Evaluator, evaluate, pipeline_generator, resolve_settings

    for flag in ("replications", "batch_size", "max_items", "steps"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise CLIError(f"--{flag.replace('_', '-')} must be at least 1, got {value}")
    from ..pipeline import check_guidance

    for flag in ("guidance", "placement_guidance"):
        if getattr(args, flag) is not None:
            try:
                check_guidance(getattr(args, flag), f"--{flag.replace('_', '-')}")
            except ValueError as err:
                raise CLIError(str(err)) from None
    apply_threads(args.threads)
    from ..evaluation.protocol import QUICK_SAMPLE_STEPS

    steps = args.steps or (QUICK_SAMPLE_STEPS if args.quick else None)
    generators, pipes = {}, []
    if not args.real_only:
        from ..pipeline import InterMambaPipeline

        checkpoints = args.checkpoint or [None]
        if args.name and len(args.name) != len(checkpoints):
            raise CLIError(f"give one --name per --checkpoint ({len(checkpoints)} checkpoints, {len(args.name)} names)")
        for k, checkpoint in enumerate(checkpoints):
            try:
                pipes.append(InterMambaPipeline.from_pretrained(checkpoint, device=args.device))
                pipes[-1].check_steps(steps, "--steps")
            except (ValueError, FileNotFoundError) as err:
                raise CLIError(str(err)) from None
            name = args.name[k] if args.name else Path(pipes[-1].source).name
            if name in generators:
                raise CLIError(f"two models are called {name!r}; give each --checkpoint its own --name")
            generators[name] = pipeline_generator(pipes[-1], steps=steps, guidance=args.guidance,
                                                  placement_guidance=args.placement_guidance,
                                                  sampler=args.sampler, reference_anchor=args.reference_anchor)
    pipe = pipes[0] if pipes else None      # its config, device and text encoder serve the protocol
    cfg = load_config(pipe.config if pipe is not None else "demo", args.overrides)
    data_cfg = _eval_data_config(args.dataset, cfg.data) if args.dataset else cfg.data
    try:
        settings = resolve_settings(
            cfg.eval if args.preset is None else dataclasses.replace(cfg.eval, preset=args.preset),
            quick=args.quick, replications=args.replications, batch_size=args.batch_size,
            max_items=args.max_items, seed=args.seed)
        evaluator = Evaluator.load(args.evaluator or DEFAULT_EVALUATOR, device=pipe.device if pipe is not None else "cpu",
                                   text_encoder=pipe.text_encoder if pipe is not None else None)
        dataset = build_dataset(data_cfg, args.split or cfg.eval.split)
        result = evaluate(dataset, evaluator, generators, settings, collate_fn=collate,
                          progress=not args.no_progress)
    except ValueError as err:
        raise CLIError(str(err)) from None
    result.info.update({"checkpoint": [p.source for p in pipes] if len(pipes) > 1 else pipe.source if pipe else None,
                        "evaluator": str(args.evaluator or DEFAULT_EVALUATOR),
                        "dataset": data_cfg.dataset, "root": data_cfg.root, "split": args.split or cfg.eval.split,
                        "steps": None if pipe is None else steps or cfg.diffusion.sample_steps,
                        "guidance": None if pipe is None
                        else cfg.diffusion.guidance if args.guidance is None else args.guidance,
                        "sampler": None if pipe is None else args.sampler,
                        "placement_guidance": None if pipe is None else args.placement_guidance
                        if args.placement_guidance is not None else cfg.diffusion.placement_guidance,
                        "reference_anchor": None if pipe is None else pipe.anchoring(args.reference_anchor)})
    out = Path(args.out or f"eval/{next(iter(generators), 'real')}")
    json_path, md_path = result.save(out)
    print(result.to_markdown())
    print(f"wrote {json_path} and {md_path}")
