"""`intermamba <command>`: thin argument parsing over the library.

Each command is a pair: `_add_<verb>(subparsers)` declares its arguments and `_run_<verb>(args)` imports the
module that does the work (lazily, so `intermamba --help` is instant) and calls it. Bad input raises
`CLIError` (or `ConfigError`), which prints one line and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys

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


# ------------------------------------------------------------------------------------------------ main
COMMANDS = {
    "info": (_add_info, _run_info),
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
