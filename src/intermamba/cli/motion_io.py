"""Verbs that make or convert motion files: generate, render, export, import-bvh."""

from __future__ import annotations

import argparse

from dataclasses import dataclass
from typing import Optional

from .errors import CLIError
from .threads import add_threads_argument, apply_threads


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
    p.add_argument("--placement-guidance", type=float, metavar="S",
                   help="guidance scale of where the two people stand (each pelvis's ground-plane path), apart "
                        "from their poses (default: the model's; unset: --guidance)")
    p.add_argument("--reference-anchor", action=argparse.BooleanOptionalAction, default=None,
                   help="hold one person at the origin of the motion's frame at its first frame, which breaks the "
                        "two people's symmetry that merges them (default: the model's; ignored with a control)")
    p.add_argument("--no-cleanup", action="store_true",
                   help="write the model's raw joints (default: cleaned up: smoothed, rigid bones, people apart, "
                        "planted feet, on the floor; under a control only a trajectory's own: feet that walk the "
                        "path)")
    p.add_argument("--sampler", default="ddim", choices=["ddim", "dpmpp"],
                   help="ddim (default) or dpmpp (DPM-Solver++ 2M: as good in fewer --steps)")
    control = p.add_argument_group("controls (one per run)").add_mutually_exclusive_group()
    control.add_argument("--partner", metavar="FILE",
                   help="react to this person's motion (.bvh, joints .npy (T, 22, 3), or a pair (2, T, 22, 3) with "
                        "--partner-index): they are kept, the other person is generated; length = theirs - 1")
    control.add_argument("--keyframes", metavar="FILE",
                         help=".npz: 'frames' (K,) ints and 'joints' (K, 2, 22, 3) or (K, 22, 3) with 'person' 0|1; "
                              "metres, Y up, floor at y = 0; the motion passes through them")
    control.add_argument("--start-from", metavar="FILE",
                         help="a pair's joints .npy (2, T, 22, 3) (e.g. a generated _joints.npy): the output begins "
                              "with its T - 1 frames and continues them")
    control.add_argument("--timeline", metavar="SPEC",
                         help="'text@0-4; text@4-12' (seconds, contiguous from 0) or a file of such lines: one "
                              "continuous motion, each segment continuing the previous one under its own text")
    control.add_argument("--trajectory", metavar="FILE",
                         help=".npy (T, 2, 2): per frame, per person, the pelvis (x, z) in metres; NaN = free")
    p.add_argument("--partner-index", type=int, choices=[0, 1],
                   help="the partner's slot in the output (person 1 = 0, default) and, for a pair .npy, which "
                        "person of the file is the partner")
    p.add_argument("--checkpoint", help="exported model folder (default: the shipped demo model)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--out", default="outputs", help="output folder (default: ./outputs)")
    p.add_argument("--formats", default="mp4,npy,json", help="comma list of mp4,gif,npy,bvh,glb,smpl,json")
    _add_smpl_model(p, "also write STEM_smpl.mp4 per sample: both people as this SMPL / SMPL-X body")
    p.add_argument("--batch-size", type=int, default=16,
                   help="samples denoised together at most (fewer when memory is short; default 16)")
    add_threads_argument(p)
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")


DEFAULT_FRAMES = 210  # InterGen's inference length (7 s)


def _add_smpl_model(p, what: str) -> None:
    p.add_argument("--smpl-model", metavar="DIR", help=f"{what} (a folder with SMPL_NEUTRAL.npz, SMPLX_NEUTRAL.npz, "
                                                      "... or the .npz file; your own licensed files, never .pkl)")
    p.add_argument("--smpl-gender", default="neutral", choices=["neutral", "female", "male"],
                   help="which model file of the --smpl-model folder (default neutral)")


def load_smpl_model(args):
    """The --smpl-model body (smpl_body.SMPLBody), or None without the flag; a bad file is one CLIError line."""
    if not getattr(args, "smpl_model", None):
        return None
    from ..smpl_body import load_smpl_body

    try:
        return load_smpl_body(args.smpl_model, getattr(args, "smpl_gender", "neutral"))
    except ValueError as err:
        raise CLIError(f"--smpl-model: {err}") from None


def read_prompts(path: str) -> list[tuple[str, Optional[int]]]:
    """Prompt file lines: 'text' or 'text#frames' (the field's convention); blank lines are skipped."""
    from pathlib import Path

    file = Path(path)
    if not file.is_file():
        raise CLIError(f"prompt file {path!r} not found")
    try:
        content = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        content = "\0"
    if "\0" in content:
        raise CLIError(f"prompt file {path!r} is not a UTF-8 text file; write one prompt per line")
    prompts = []
    for number, line in enumerate(content.splitlines(), 1):
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
            if frames <= 0:
                raise CLIError(f"{path}:{number}: the length must be a positive number of frames, got #{tail}")
        if not text.strip():
            raise CLIError(f"{path}:{number}: empty prompt")
        prompts.append((text.strip(), frames))
    if not prompts:
        raise CLIError(f"prompt file {path!r} holds no prompts")
    return prompts


def _requested_frames(args) -> Optional[int]:
    """--frames or --seconds as frames at 30 fps, checked; None when neither is given."""
    import math

    from ..skeleton import FPS

    if args.seconds is not None:
        if not math.isfinite(args.seconds) or args.seconds <= 0:
            raise CLIError(f"--seconds must be a finite positive number, got {args.seconds}")
        frames = round(args.seconds * FPS)
        if frames == 0:
            raise CLIError(f"--seconds {args.seconds} is 0 frames at {FPS} fps; ask for at least {1 / FPS:.3f} s")
        return frames
    if args.frames is None:
        return None
    if args.frames <= 0:
        raise CLIError(f"--frames must be positive, got {args.frames}")
    return args.frames


def check_out_dir(path) -> None:
    """An output folder must be a folder (or not exist yet, below folders): checked before any work."""
    from pathlib import Path

    path = Path(path)
    for folder in (path, *path.parents):
        if folder.exists():
            if not folder.is_dir():
                where = f"--out {path}" if folder == path else f"--out {path}: {folder}"
                raise CLIError(f"{where} is a file, not a folder; give a folder")
            return


@dataclass
class GeneratePlan:
    """A `generate` request checked without the model: what to make and under which file stems."""

    jobs: list                         # [(text, frames, seed, file stem)], one per sample
    formats: list                      # output formats, e.g. ["mp4", "npy", "json"]
    constraint: Optional[object]       # constraints.FeatureConstraint of a control flag, or None
    flag: Optional[str]                # that flag's name ("--partner", ...), or None
    timeline: Optional[list]           # [(text, frames)] of --timeline, or None
    smpl_body: Optional[object] = None  # smpl_body.SMPLBody of --smpl-model: a mesh video per sample, or None


def plan_generate(args, *, timeline_files: bool = True) -> GeneratePlan:
    """Step 1 of `generate`: everything that can be checked before loading the model, as one CLIError line.

    `intermamba serve` builds `args` from a request's JSON and calls this too (timeline_files=False: a web
    request's --timeline is text, never a path on the server), so the page shows the CLI's messages."""
    from ..export import parse_formats, safe_stem

    from .constraint_inputs import read_constraint, read_timeline

    prompts = [(t, None) for t in args.texts]
    if args.prompts:
        prompts += read_prompts(args.prompts)
    timeline = read_timeline(args, files=timeline_files)
    if timeline is not None:
        from ..pipeline import TIMELINE_MARGIN, TIMELINE_OVERLAP

        # one job, as long as the longest segment's pass (it continues the previous segment's last frames)
        longest = max(n for _, n in timeline) + TIMELINE_OVERLAP + 1 + TIMELINE_MARGIN
        prompts = [("; ".join(text for text, _ in timeline), longest)]
    if not prompts:
        raise CLIError("no prompt given; pass TEXT or --prompts FILE")
    for text, _ in prompts:
        if not text.strip():
            raise CLIError("a prompt is empty; describe the interaction, e.g. 'two people shake hands'")
    requested = _requested_frames(args)
    constraint, flag = read_constraint(args, requested, DEFAULT_FRAMES)
    default_frames = requested or (DEFAULT_FRAMES if constraint is None else constraint.frames)
    from ..pipeline import check_count, check_guidance, check_request_size, check_seed

    try:
        check_count(args.num_samples, "--num-samples")
        check_count(args.batch_size, "--batch-size")
        check_request_size(len(prompts) * args.num_samples)
        check_seed(args.seed, "--seed", args.num_samples)
        if args.steps is not None:
            check_count(args.steps, "--steps")
        for name in ("guidance", "placement_guidance"):
            if getattr(args, name) is not None:
                check_guidance(getattr(args, name), f"--{name.replace('_', '-')}")
        formats = parse_formats(args.formats)
    except ValueError as err:
        raise CLIError(str(err)) from None
    jobs, seen = [], set()
    for text, frames in prompts:
        for k in range(args.num_samples):
            stem = f"{safe_stem(text)}_seed{args.seed + k}"
            base, n = stem, 2
            while stem in seen:
                stem, n = f"{base}_{n}", n + 1
            seen.add(stem)
            jobs.append((text, default_frames if frames is None else frames, args.seed + k, stem))
    if constraint is not None:
        longest = max(frames for _, frames, _, _ in jobs)
        if longest > constraint.frames:
            raise CLIError(f"{flag} covers {constraint.frames} frames; a {longest}-frame motion was asked for "
                           f"(ask for at most {constraint.frames} frames)")
    return GeneratePlan(jobs, formats, constraint, flag, timeline, load_smpl_model(args))


def check_plan(pipe, plan: GeneratePlan, args) -> int:
    """Step 2 of `generate`: the checks that need the model (lengths, steps); returns the step count."""
    try:
        for _, frames, _, _ in plan.jobs:
            pipe.check_frames(frames)
        return pipe.check_steps(args.steps, "--steps")
    except ValueError as err:
        raise CLIError(str(err)) from None


def write_plan(pipe, plan: GeneratePlan, args, steps: int, out_dir, *, progress=True) -> list:
    """Step 3 of `generate`: denoise the plan's jobs (same-length jobs share batches, as many as fit in memory)
    and write each sample's files (export.write_sample); returns the written paths. progress: True for a bar,
    or a callable(done, total) over the denoising steps (pipeline.iter_batches)."""
    from ..export import write_sample
    from ..pipeline import GenerationError, OutOfMemory

    guidance = pipe.config.diffusion.guidance if args.guidance is None else args.guidance
    placement = args.placement_guidance
    if placement is None:
        placement = pipe.config.diffusion.placement_guidance
    record = {"model": pipe.source, "steps": steps, "guidance": guidance,
              "placement_guidance": guidance if placement is None else placement,
              "cleaned_up": not args.no_cleanup and (plan.constraint is None or plan.constraint.cleanup is not None),
              "device": str(pipe.device), "sampler": args.sampler,
              "reference_anchor": plan.constraint is None and pipe.anchoring(args.reference_anchor)}
    if plan.timeline is not None:
        return _write_timeline(pipe, args, plan.timeline, record, out_dir, plan.jobs[0][3], plan.formats, progress,
                               plan.smpl_body)
    written = []
    try:
        for indices, samples, seconds in pipe.iter_batches([j[:3] for j in plan.jobs], steps=steps,
                                                           guidance=guidance, batch_size=args.batch_size,
                                                           progress=progress, constraint=plan.constraint,
                                                           sampler=args.sampler, placement_guidance=placement,
                                                           cleanup=not args.no_cleanup,
                                                           reference_anchor=args.reference_anchor):
            for index, sample in zip(indices, samples):
                timings = {"batch_seconds": round(seconds, 4), "batch_size": len(samples),
                           "seconds_per_sample": round(seconds / len(samples), 4)}
                written += write_sample(sample, out_dir, plan.jobs[index][3], plan.formats,
                                        record={**record, "partner": args.partner, "timings": timings},
                                        smpl_body=plan.smpl_body)
    except OutOfMemory as err:
        raise CLIError(f"{err} (e.g. --batch-size {max(1, err.batch // 2)})") from None
    except GenerationError as err:  # a model whose output is not finite
        raise CLIError(str(err)) from None
    return written


def _run_generate(args):
    from pathlib import Path

    from ..export import output_files

    # 1. Everything that can be checked without the model, before loading it.
    plan = plan_generate(args)
    out_dir = Path(args.out)
    check_out_dir(out_dir)
    if not args.overwrite:
        clash = [out_dir / name for *_, stem in plan.jobs
                 for name in output_files(stem, plan.formats, smpl_video=plan.smpl_body is not None)
                 if (out_dir / name).exists()]
        if clash:
            raise CLIError(f"{clash[0]} already exists ({len(clash)} output file(s) would be replaced); "
                           "use --overwrite or another --out")
    apply_threads(args.threads)

    # 2. The model.
    from ..pipeline import InterMambaPipeline

    try:
        pipe = InterMambaPipeline.from_pretrained(args.checkpoint, device=args.device)
    except (ValueError, FileNotFoundError) as err:
        raise CLIError(str(err)) from None
    steps = check_plan(pipe, plan, args)

    # 3. Generate and write.
    written = write_plan(pipe, plan, args, steps, out_dir)
    what = (f"1 timeline of {len(plan.timeline)} segment(s)" if plan.timeline is not None
            else f"{len(plan.jobs)} sample(s)")
    print(f"wrote {len(written)} file(s) for {what} to {out_dir}/")


def _write_timeline(pipe, args, timeline, record: dict, out_dir, stem: str, formats, progress,
                    smpl_body=None) -> list:
    """Generate one timeline (pipeline.generate_timeline) and write it like any sample."""
    import time

    from ..export import write_sample
    from ..pipeline import GenerationError

    tic = time.perf_counter()
    try:
        sample = pipe.generate_timeline(timeline, seed=args.seed, steps=record["steps"], guidance=record["guidance"],
                                        sampler=args.sampler, progress=progress, cleanup=not args.no_cleanup)
    except (GenerationError, ValueError) as err:
        raise CLIError(str(err)) from None
    record = {**record, "timeline": [{"text": t, "frames": n} for t, n in timeline],
              "seconds_to_generate": round(time.perf_counter() - tic, 4)}
    return write_sample(sample, out_dir, stem, formats, record=record, smpl_body=smpl_body)


# ---------------------------------------------------------------------------------------------- render
def _check_fps(fps: int) -> None:
    if fps <= 0:
        raise CLIError(f"--fps must be positive, got {fps}")


def _read_motion(path):
    """(joints (2, T, 22, 3), features or None) from a result or dataset .npy, or one CLIError line."""
    from ..export import load_motion_npy

    try:
        return load_motion_npy(path)
    except ValueError as err:
        raise CLIError(str(err)) from None


def _add_render(sub):
    p = sub.add_parser("render", help="render a result or dataset item (.npy) as a video")
    p.add_argument("file", help="joints (2, T, 22, 3) or features (T, 2, 262) .npy")
    p.add_argument("--out", help="video path (.mp4 or .gif; default: beside the input, .mp4, or STEM_smpl.mp4 "
                                 "with --smpl-model)")
    p.add_argument("--title", help="caption shown above the figure")
    p.add_argument("--fps", type=int, default=30)
    _add_smpl_model(p, "draw both people as this SMPL / SMPL-X body instead of the capsule bodies")
    p.add_argument("--overwrite", action="store_true")


def _run_render(args):
    from pathlib import Path

    from ..export import sample_stem, smpl_video_name

    if args.out:
        out = Path(args.out)
    elif args.smpl_model:
        out = Path(args.file).with_name(smpl_video_name(sample_stem(args.file)))
    else:
        out = Path(args.file).with_suffix(".mp4")
    if out.suffix not in (".mp4", ".gif"):
        raise CLIError(f"unknown video format {out.suffix!r}; use .mp4 or .gif")
    if out.exists() and not args.overwrite:
        raise CLIError(f"{out} already exists; use --overwrite or another --out")
    _check_fps(args.fps)
    body = load_smpl_model(args)
    joints, features = _read_motion(args.file)
    if body is not None:
        from ..export import write_smpl_video

        try:
            write_smpl_video(out, body, joints, features, title=args.title, fps=args.fps)
        except ValueError as err:      # NaN or inf in the file: nothing was written
            raise CLIError(str(err)) from None
    else:
        from ..render import render_video

        render_video(joints, out, title=args.title, fps=args.fps)
    print(f"wrote {out}")


# ---------------------------------------------------------------------------------------------- export
def _add_export(sub):
    p = sub.add_parser("export", help="convert a result or dataset item (.npy) to other formats")
    p.add_argument("file", help="joints (2, T, 22, 3) or features (T, 2, 262) .npy")
    p.add_argument("--to", default="bvh", choices=["bvh", "glb", "smpl"],
                   help="target format: bvh (STEM_p1.bvh, STEM_p2.bvh), glb (STEM.glb, both people as animated "
                        "bodies) or smpl (STEM_p1_smpl.npz, STEM_p2_smpl.npz, AMASS-style SMPL parameters)")
    p.add_argument("--out", help="output stem, or a folder (an existing one, or ending in /) "
                                 "(default: beside the input, named after its sample)")
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--overwrite", action="store_true")


def _run_export(args):
    import os
    from pathlib import Path

    from ..export import output_files, sample_stem, write_rig_files

    _check_fps(args.fps)
    name = sample_stem(args.file)                        # x_features.npy -> x, as generate names x_p1.bvh, x.glb
    if not args.out:
        stem = Path(args.file).with_name(name)
    elif args.out.endswith(("/", os.sep)) or Path(args.out).is_dir():
        check_out_dir(args.out)
        stem = Path(args.out) / name
    else:
        check_out_dir(Path(args.out).parent)
        stem = Path(args.out)
        if stem.suffix in (".bvh", ".glb", ".npz"):      # --out walk.glb names the stem walk
            stem = stem.with_suffix("")
    targets = [stem.parent / n for n in output_files(stem.name, [args.to])]
    clash = [t for t in targets if t.exists()]
    if clash and not args.overwrite:
        raise CLIError(f"{clash[0]} already exists; use --overwrite or another --out")
    joints, features = _read_motion(args.file)
    try:
        written = write_rig_files(stem, args.to, joints, features, fps=args.fps)
    except ValueError as err:          # NaN or inf in the file: nothing was written
        raise CLIError(str(err)) from None
    for path in written:
        print(f"wrote {path}")


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

    from ..data import bvh
    from ..export import save_npy

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
