"""Verbs that train the denoiser: train and plot-fusion."""

from __future__ import annotations

from .errors import CLIError
from .threads import add_threads_argument, apply_threads


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
    add_threads_argument(p)


def _run_train(args):
    import os

    from ..config import load_config
    from ..training import TrainingError, train
    from ..text import TextEncoderError

    cfg = load_config(args.config, args.overrides)
    apply_threads(args.threads)
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
    from ..fusion_plot import plot_fusion

    try:
        out = plot_fusion(args.logdir, args.out)
    except ValueError as err:
        raise CLIError(str(err)) from None
    print(f"wrote {out}")
