"""The data verb: write, stats and preview of any dataset."""

from __future__ import annotations

from .errors import CLIError
from .evaluate import _eval_data_config


# ------------------------------------------------------------------------------------------------ data
def _add_data(sub):
    p = sub.add_parser("data", help="look at a dataset: video previews and statistics")
    verbs = p.add_subparsers(dest="data_command", required=True, metavar="SUBCOMMAND")
    w = verbs.add_parser("write", help="write the procedural world in InterHuman's on-disk layout")
    w.add_argument("out", help="output folder (motions_processed/, annots/, split/)")
    w.add_argument("--items", type=int, default=2000, help="number of interactions (default 2000)")
    w.add_argument("--seed", type=int, default=0, help="world seed")
    for name, help_ in (("preview", "render a few items as videos"),
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

    from ..config import load_config

    if args.data_command == "write":
        from ..data.synthetic import write_interhuman

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
        from ..data.stats import dataset_stats, format_stats

        splits = ("train", "val", "test") if args.split == "all" else (args.split,)
        try:
            print(format_stats(dataset_stats(data_cfg, splits)))
        except ValueError as err:
            raise CLIError(str(err)) from None
        return
    if args.num < 1:
        raise CLIError(f"--num must be at least 1, got {args.num}")
    from ..data.stats import preview_items
    from ..render import render_frames_png, render_video

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
