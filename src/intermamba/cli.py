"""`intermamba <command>`: thin argument parsing over the library.

Each command is a pair: `_add_<verb>(subparsers)` declares its arguments and `_run_<verb>(args)` imports the
module that does the work (lazily, so `intermamba --help` is instant) and calls it. Bad input raises
`CLIError` (or `ConfigError`), which prints one line and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional

from .config import ConfigError


class CLIError(Exception):
    """A user mistake: printed as one line, exit status 2."""


# ------------------------------------------------------------------------------------------------ info
def _add_info(sub):
    p = sub.add_parser("info", help="print a config's parameters by module")
    p.add_argument("config", nargs="?", default="demo", help="config name or YAML path (default: demo)")
    p.add_argument("overrides", nargs="*", help="section.key=value overrides")


def _run_info(args):
    from .config import load_config
    from .model import build_model, parameter_table

    cfg = load_config(args.config, args.overrides)
    print(parameter_table(build_model(cfg), cfg))


# -------------------------------------------------------------------------------------------- generate
def _add_generate(sub):
    p = sub.add_parser("generate", help="text to two-person motion (videos, npy, BVH, JSON)")
    p.add_argument("texts", nargs="*", metavar="TEXT", help="prompts, e.g. 'two people shake hands'")
    p.add_argument("--prompts", metavar="FILE", help="one prompt per line, or 'text#frames' lines")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--frames", type=int, help="length in frames at 30 fps (default 210 = 7 s)")
    length.add_argument("--seconds", type=float, help="length in seconds")
    p.add_argument("--seed", type=int, default=0, help="sample k of a prompt starts from seed + k")
    p.add_argument("--num-samples", type=int, default=1, help="samples per prompt")
    p.add_argument("--steps", type=int, help="DDIM steps (default: the model's, 50)")
    p.add_argument("--guidance", type=float, help="classifier-free guidance scale (default: the model's, 3.5)")
    p.add_argument("--checkpoint", help="exported model folder (default: the shipped demo model)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--out", default="outputs", help="output folder (default: ./outputs)")
    p.add_argument("--formats", default="mp4,npy,json", help="comma list of mp4,gif,npy,bvh,json")
    p.add_argument("--batch-size", type=int, default=16, help="samples denoised together")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")


DEFAULT_FRAMES = 210  # InterGen's inference length (7 s)


def read_prompts(path: str) -> list[tuple[str, Optional[int]]]:
    """Prompt file lines: 'text' or 'text#frames' (the field's convention); blank lines are skipped."""
    from pathlib import Path

    file = Path(path)
    if not file.is_file():
        raise CLIError(f"prompt file {path!r} not found")
    prompts = []
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        text, frames = line, None
        if "#" in line:
            text, _, tail = line.rpartition("#")
            try:
                frames = int(tail)
            except ValueError:
                raise CLIError(f"{path}:{number}: '#{tail}' is not a frame count; write 'text#frames'") from None
        if not text.strip():
            raise CLIError(f"{path}:{number}: empty prompt")
        prompts.append((text.strip(), frames))
    if not prompts:
        raise CLIError(f"prompt file {path!r} holds no prompts")
    return prompts


def _run_generate(args):
    from pathlib import Path

    from .export import output_files, parse_formats, safe_stem, write_sample

    # 1. Everything that can be checked without the model, before loading it.
    prompts = [(t, None) for t in args.texts]
    if args.prompts:
        prompts += read_prompts(args.prompts)
    if not prompts:
        raise CLIError("no prompt given; pass TEXT or --prompts FILE")
    for text, _ in prompts:
        if not text.strip():
            raise CLIError("a prompt is empty; describe the interaction, e.g. 'two people shake hands'")
    if args.seconds is not None:
        default_frames = round(args.seconds * 30)
        if default_frames <= 0:
            raise CLIError(f"--seconds must be positive, got {args.seconds}")
    else:
        default_frames = DEFAULT_FRAMES if args.frames is None else args.frames
    if default_frames <= 0:
        raise CLIError(f"--frames must be positive, got {default_frames}")
    if args.num_samples < 1:
        raise CLIError(f"--num-samples must be at least 1, got {args.num_samples}")
    if args.steps is not None and args.steps < 1:
        raise CLIError(f"--steps must be at least 1, got {args.steps}")
    try:
        formats = parse_formats(args.formats)
    except ValueError as err:
        raise CLIError(str(err)) from None
    out_dir = Path(args.out)
    jobs, seen = [], set()
    for text, frames in prompts:
        for k in range(args.num_samples):
            stem = f"{safe_stem(text)}_seed{args.seed + k}"
            base, n = stem, 2
            while stem in seen:
                stem, n = f"{base}_{n}", n + 1
            seen.add(stem)
            jobs.append((text, frames or default_frames, args.seed + k, stem))
    if not args.overwrite:
        clash = [out_dir / name for *_, stem in jobs for name in output_files(stem, formats)
                 if (out_dir / name).exists()]
        if clash:
            raise CLIError(f"{clash[0]} already exists ({len(clash)} output file(s) would be replaced); "
                           "use --overwrite or another --out")

    # 2. The model.
    from .pipeline import InterMambaPipeline

    try:
        pipe = InterMambaPipeline.from_pretrained(args.checkpoint, device=args.device)
        for _, frames, _, _ in jobs:
            pipe.check_frames(frames)
    except (ValueError, FileNotFoundError) as err:
        raise CLIError(str(err)) from None

    # 3. Generate (same-length jobs share batches) and write.
    from tqdm.auto import tqdm

    written = 0
    steps = args.steps or pipe.config.diffusion.sample_steps
    guidance = pipe.config.diffusion.guidance if args.guidance is None else args.guidance
    with tqdm(total=len(jobs), desc="generating", unit="sample") as bar:
        for indices, samples, seconds in pipe.iter_batches([j[:3] for j in jobs], steps=steps, guidance=guidance,
                                                           batch_size=args.batch_size, progress=len(jobs) == 1):
            for index, sample in zip(indices, samples):
                record = {"model": pipe.source, "steps": steps, "guidance": guidance, "device": str(pipe.device),
                          "timings": {"batch_seconds": round(seconds, 4), "batch_size": len(samples),
                                      "seconds_per_sample": round(seconds / len(samples), 4)}}
                written += len(write_sample(sample, out_dir, jobs[index][3], formats, record=record))
                bar.update(1)
    print(f"wrote {written} file(s) for {len(jobs)} sample(s) to {out_dir}/")


# ---------------------------------------------------------------------------------------------- render
def _add_render(sub):
    p = sub.add_parser("render", help="render a result or dataset item (.npy) as a stick-figure video")
    p.add_argument("file", help="joints (2, T, 22, 3) or features (T, 2, 262) .npy")
    p.add_argument("--out", help="video path (.mp4 or .gif; default: beside the input, .mp4)")
    p.add_argument("--title", help="caption shown above the figure")
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--overwrite", action="store_true")


def _run_render(args):
    from pathlib import Path

    from .export import load_motion_npy

    out = Path(args.out) if args.out else Path(args.file).with_suffix(".mp4")
    if out.suffix not in (".mp4", ".gif"):
        raise CLIError(f"unknown video format {out.suffix!r}; use .mp4 or .gif")
    if out.exists() and not args.overwrite:
        raise CLIError(f"{out} already exists; use --overwrite or another --out")
    if args.fps <= 0:
        raise CLIError(f"--fps must be positive, got {args.fps}")
    try:
        joints, _ = load_motion_npy(args.file)
    except ValueError as err:
        raise CLIError(str(err)) from None
    from .render import render_video

    render_video(joints, out, title=args.title, fps=args.fps)
    print(f"wrote {out}")


# ---------------------------------------------------------------------------------------------- export
def _add_export(sub):
    p = sub.add_parser("export", help="convert a result or dataset item (.npy) to other formats")
    p.add_argument("file", help="joints (2, T, 22, 3) or features (T, 2, 262) .npy")
    p.add_argument("--to", default="bvh", choices=["bvh"], help="target format (bvh: one file per person)")
    p.add_argument("--out", help="output stem (default: beside the input); writes STEM_p1.bvh, STEM_p2.bvh")
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--overwrite", action="store_true")


def _run_export(args):
    from pathlib import Path

    from .export import load_motion_npy, write_bvh_files

    stem = Path(args.out) if args.out else Path(args.file).with_suffix("")
    targets = [stem.parent / f"{stem.name}_p{i}.bvh" for i in (1, 2)]
    clash = [t for t in targets if t.exists()]
    if clash and not args.overwrite:
        raise CLIError(f"{clash[0]} already exists; use --overwrite or another --out")
    try:
        joints, features = load_motion_npy(args.file)
    except ValueError as err:
        raise CLIError(str(err)) from None
    for path in write_bvh_files(stem, joints, features, fps=args.fps):
        print(f"wrote {path}")


# ----------------------------------------------------------------------------------------------- train
def _add_train(sub):
    p = sub.add_parser("train", help="train a denoiser (Lightning: CPU, GPU, DDP); resumes a killed run",
                       description="Train with PyTorch Lightning. Starting the same command again continues "
                                   "the run from its last checkpoint.")
    p.add_argument("--config", default="demo", help="config name or YAML path (default: demo)")
    p.add_argument("overrides", nargs="*", help="section.key=value overrides, e.g. train.max_steps=2000")
    p.add_argument("--run-dir", help="run folder (default: train.out_dir/<config name>)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--resume", action="store_true", default=None,
                       help="require a checkpoint in the run folder and continue from it")
    group.add_argument("--fresh", dest="resume", action="store_false",
                       help="refuse to start if the run folder already holds a run")


def _run_train(args):
    import os

    from .config import load_config
    from .training import TrainingError, train
    from .text import TextEncoderError

    cfg = load_config(args.config, args.overrides)
    try:
        run_dir = train(cfg, run_dir=args.run_dir, resume=args.resume)
    except (TrainingError, TextEncoderError) as err:
        raise CLIError(str(err)) from None
    if int(os.environ.get("RANK", os.environ.get("SLURM_PROCID", "0"))) == 0:   # once, not per DDP process
        print(f"run folder: {run_dir}; inference export: {run_dir / 'export'}")


# ----------------------------------------------------------------------------------------- plot-fusion
def _add_plot_fusion(sub):
    p = sub.add_parser("plot-fusion", help="draw the fusion weights against training steps (paper Fig. 8)")
    p.add_argument("logdir", help="a run folder (or its logs/ folder)")
    p.add_argument("--out", help="PNG path (default: LOGDIR/fusion.png)")


def _run_plot_fusion(args):
    from .fusion_plot import plot_fusion

    try:
        out = plot_fusion(args.logdir, args.out)
    except ValueError as err:
        raise CLIError(str(err)) from None
    print(f"wrote {out}")


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
    from .config import load_config
    from .evaluation import train_evaluator

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
    p.add_argument("--checkpoint", help="exported model folder (default: the shipped demo model)")
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
    p.add_argument("--name", help="the model's row name (default: the checkpoint folder's name)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--out", help="output folder (default: eval/<name>)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("overrides", nargs="*", help="section.key=value overrides of the checkpoint's config, "
                                                "e.g. eval.mm_num_samples=20 eval.gen_batch_size=64")


def _eval_data_config(spec, data_cfg):
    """`synthetic` or `NAME:ROOT` -> the data section to read the split with (other fields kept)."""
    import dataclasses

    from .data import DATASETS

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

    from .config import load_config
    from .data import build_dataset, collate
    from .evaluation import DEFAULT_EVALUATOR, Evaluator, evaluate, pipeline_generator, resolve_settings

    for flag in ("replications", "batch_size", "max_items", "steps"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise CLIError(f"--{flag.replace('_', '-')} must be at least 1, got {value}")
    from .evaluation.protocol import QUICK_SAMPLE_STEPS

    steps = args.steps or (QUICK_SAMPLE_STEPS if args.quick else None)
    generators, pipe = {}, None
    if not args.real_only:
        from .pipeline import InterMambaPipeline

        try:
            pipe = InterMambaPipeline.from_pretrained(args.checkpoint, device=args.device)
        except (ValueError, FileNotFoundError) as err:
            raise CLIError(str(err)) from None
        name = args.name or Path(pipe.source).name
        generators[name] = pipeline_generator(pipe, steps=steps, guidance=args.guidance)
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
    result.info.update({"checkpoint": pipe.source if pipe is not None else None,
                        "evaluator": str(args.evaluator or DEFAULT_EVALUATOR),
                        "dataset": data_cfg.dataset, "root": data_cfg.root, "split": args.split or cfg.eval.split,
                        "steps": None if pipe is None else steps or cfg.diffusion.sample_steps,
                        "guidance": None if pipe is None
                        else cfg.diffusion.guidance if args.guidance is None else args.guidance})
    out = Path(args.out or f"eval/{next(iter(generators), 'real')}")
    json_path, md_path = result.save(out)
    print(result.to_markdown())
    print(f"wrote {json_path} and {md_path}")


# ------------------------------------------------------------------------------------------ import-bvh
def _add_import_bvh(sub):
    p = sub.add_parser("import-bvh", help="read a BVH pair (two persons captured together) as joints .npy")
    p.add_argument("person1", help="BVH file of person 1")
    p.add_argument("person2", help="BVH file of person 2 (same world frame and clock)")
    p.add_argument("--out", help="joints (2, T, 22, 3) .npy (default: beside person1, <name>_pair.npy)")
    p.add_argument("--fps", type=float, default=30.0, help="output frame rate (default 30)")
    p.add_argument("--units", default="auto", help="auto, m, cm, mm, inch, asf or metres per file unit")
    p.add_argument("--overwrite", action="store_true")


def _run_import_bvh(args):
    from pathlib import Path

    from .data import bvh
    from .export import save_npy

    out = Path(args.out) if args.out else Path(args.person1).with_name(Path(args.person1).stem + "_pair.npy")
    if out.suffix != ".npy":
        raise CLIError(f"--out must end in .npy, got {out.name!r}")
    if out.exists() and not args.overwrite:
        raise CLIError(f"{out} already exists; use --overwrite or another --out")
    try:
        units = float(args.units)
    except ValueError:
        units = args.units
    try:
        joints = bvh.read_bvh_pair(args.person1, args.person2, fps=args.fps, units=units)
        maps = [bvh.joint_map(bvh.read_bvh(path)) for path in (args.person1, args.person2)]
    except ValueError as err:  # BVHError included
        raise CLIError(str(err)) from None
    save_npy(out, joints)
    for k, m in enumerate(maps, start=1):
        placed = [name for name, sources in m.items() if len(sources) > 1]
        print(f"person {k}: " + ", ".join(f"{ours}<-{next(iter(src))}" for ours, src in m.items() if len(src) == 1)
              + (f"; placed between neighbours: {', '.join(placed)}" if placed else ""))
    print(f"wrote {out}: {joints.shape[1]} frames at {args.fps:g} fps ({joints.shape[1] / args.fps:.2f} s)")


# ------------------------------------------------------------------------------------------------ data
def _add_data(sub):
    p = sub.add_parser("data", help="look at a dataset: stick-figure previews and statistics")
    verbs = p.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")
    w = verbs.add_parser("write", help="write the procedural world in InterHuman's on-disk layout")
    w.add_argument("out", help="output folder (motions_processed/, annots/, split/)")
    w.add_argument("--items", type=int, default=2000, help="number of interactions (default 2000)")
    w.add_argument("--seed", type=int, default=0, help="world seed")
    for name, help_ in (("preview", "render a few items as stick-figure videos"),
                        ("stats", "print counts, kinds, lengths and split sizes")):
        q = verbs.add_parser(name, help=help_)
        q.add_argument("dataset", nargs="?", default="synthetic",
                       help="synthetic (default), or NAME:ROOT with NAME interhuman, interx or bvh")
        q.add_argument("--config", default="demo", help="config whose data section to start from (default: demo)")
        q.add_argument("--items", type=int, help="synthetic: number of interactions in the world")
        q.add_argument("--seed", type=int, default=0, help="synthetic world seed / which items to preview")
        if name == "preview":
            q.add_argument("--num", type=int, default=6, help="how many items (default 6)")
            q.add_argument("--out", default="preview", help="output folder (default: preview)")
            q.add_argument("--format", choices=["mp4", "gif"], default="mp4")
            q.add_argument("--split", default="train", help="split to preview (non-synthetic data)")
            q.add_argument("--kind", help="synthetic: only this interaction kind")
            q.add_argument("--png", action="store_true", help="also write a still PNG of key frames per item")
        else:
            q.add_argument("--split", default="all", help="train, val, test or all (default)")


def _run_data(args):
    import dataclasses
    from pathlib import Path

    from .config import load_config

    if args.data_command == "write":
        from .data.synthetic import write_interhuman

        if args.items < 1:
            raise CLIError(f"--items must be at least 1, got {args.items}")
        if Path(args.out).exists() and any(Path(args.out).iterdir()):
            raise CLIError(f"{args.out} is not empty; choose a new folder")
        count = write_interhuman(args.out, num_items=args.items, seed=args.seed)
        print(f"wrote {count} interactions to {args.out} (read them with --dataset interhuman:{args.out})")
        return
    cfg = load_config(args.config)
    data_cfg = _eval_data_config(args.dataset, cfg.data)
    data_cfg = dataclasses.replace(data_cfg, seed=args.seed)
    if args.items is not None:
        if args.items < 1:
            raise CLIError(f"--items must be at least 1, got {args.items}")
        data_cfg = dataclasses.replace(data_cfg, synthetic_items=args.items)
    if args.data_command == "stats":
        from .data.stats import dataset_stats, format_stats

        splits = ("train", "val", "test") if args.split == "all" else (args.split,)
        try:
            print(format_stats(dataset_stats(data_cfg, splits)))
        except ValueError as err:
            raise CLIError(str(err)) from None
        return
    if args.num < 1:
        raise CLIError(f"--num must be at least 1, got {args.num}")
    from .data.stats import preview_items
    from .render import render_frames_png, render_video

    try:
        items = preview_items(data_cfg, args.split, num=args.num, kind=args.kind)
    except ValueError as err:
        raise CLIError(str(err)) from None
    out = Path(args.out)
    from tqdm import tqdm

    for name, text, joints in tqdm(items, desc="preview", unit="video"):
        stem = out / name
        video = render_video(joints, stem.with_suffix("." + args.format), title=text)
        if args.png:
            render_frames_png(joints, stem.with_suffix(".png"), title=text)
        tqdm.write(f"wrote {video}")


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
    p.add_argument("--scan-backend", default="auto",
                   help="selective-scan backend for the model runs: auto (mamba_ssm, else triton on CUDA; native, "
                        "else fused on CPU), ref, fused, native, triton or mamba_ssm")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _run_bench(args):
    import torch

    from . import bench
    from .ops import scan_backend

    if args.threads:
        torch.set_num_threads(args.threads)
    progress = not args.no_progress
    if args.scan:
        shapes = bench.SCAN_SHAPES[:1] if args.quick else bench.SCAN_SHAPES
        rows = bench.scan_benchmark(shapes, backends=bench.scan_backends_for(args.device),
                                    repeats=args.repeats or (2 if args.quick else 3), device=args.device,
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
                compile_model=args.compile, repeats=args.repeats or (2 if args.quick else 5),
                sample_steps=args.sample_steps or (10 if args.quick else 50),
                sample_repeats=args.sample_repeats or (1 if args.quick else 2), sweep=sweep, progress=progress)
    except ValueError as err:
        raise CLIError(str(err)) from None
    print(bench.format_table(result))
    if args.json:
        bench.write_json(result, args.json)
    if args.plot:
        if not sweep:
            raise CLIError("--plot needs a sweep (give --sweep lengths)")
        bench.write_plot(result, args.plot)


# ------------------------------------------------------------------------------------------------ main
COMMANDS = {
    "info": (_add_info, _run_info),
    "generate": (_add_generate, _run_generate),
    "render": (_add_render, _run_render),
    "export": (_add_export, _run_export),
    "train": (_add_train, _run_train),
    "plot-fusion": (_add_plot_fusion, _run_plot_fusion),
    "train-evaluator": (_add_train_evaluator, _run_train_evaluator),
    "eval": (_add_eval, _run_eval),
    "import-bvh": (_add_import_bvh, _run_import_bvh),
    "data": (_add_data, _run_data),
    "bench": (_add_bench, _run_bench),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="intermamba", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add, _ in COMMANDS.values():
        add(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        COMMANDS[args.command][1](args)
    except (CLIError, ConfigError) as err:
        print(f"intermamba {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
