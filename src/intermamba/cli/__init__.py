"""`intermamba <command>`: thin argument parsing over the library.

Each command is a pair: `_add_<verb>(subparsers)` declares its arguments and `_run_<verb>(args)` imports the
module that does the work (lazily, so `intermamba --help` is instant) and calls it. Bad input raises
`CLIError` (or `ConfigError`), which prints one line and exits with status 2. One module per verb group:
`motion_io` (generate, render, export, import-bvh), `training`, `evaluate`, `data`, `tools` (info, bench, build-kernels),
`web` (serve).
"""

from __future__ import annotations

import argparse
import sys

from ..config import ConfigError
from .data import _add_data, _run_data
from .errors import CLIError
from .evaluate import _add_eval, _add_train_evaluator, _run_eval, _run_train_evaluator
from .motion_io import (DEFAULT_FRAMES, _add_export, _add_generate, _add_import_bvh, _add_render, _run_export,
                        _run_generate, _run_import_bvh, _run_render, read_prompts)
from .tools import _add_bench, _add_build_kernels, _add_info, _run_bench, _run_build_kernels, _run_info
from .training import _add_plot_fusion, _add_train, _run_plot_fusion, _run_train
from .web import _add_serve, _run_serve

__all__ = ["CLIError", "DEFAULT_FRAMES", "build_parser", "main", "read_prompts"]


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
    "build-kernels": (_add_build_kernels, _run_build_kernels),
    "serve": (_add_serve, _run_serve),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="intermamba", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"intermamba {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add, _ in COMMANDS.values():
        add(sub)
    return parser


def _version() -> str:
    """The installed distribution's version (package metadata), else the source tree's."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("intermamba")
    except PackageNotFoundError:
        from .. import __version__

        return __version__


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
