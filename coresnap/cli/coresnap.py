"""The host CLI: ``coresnap <command>``.

Each subcommand lives in its own module under ``coresnap.cli.commands`` and exposes a
``COMMAND = Command(name, help, configure, run)``; this module discovers them, builds the parser
and turns our errors into exit codes (1 for a CoresnapError, with its message, never a traceback).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from coresnap import __version__
from coresnap.cli import commands
from coresnap.cli.commands import Command
from coresnap.errors import CoresnapError


def _commands() -> list[Command]:
    found = []
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        command = getattr(module, "COMMAND", None)
        if isinstance(command, Command):
            found.append(command)
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coresnap", description="Catch, snapshot and read core dumps."
    )
    parser.add_argument("--version", action="version", version=f"coresnap {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text, configure, run in _commands():
        p = sub.add_parser(name, help=help_text, description=help_text)
        configure(p)
        p.set_defaults(run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except CoresnapError as e:
        print(f"coresnap {args.command}: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
