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


def _commands(only: str | None = None) -> list[Command]:
    """Every command; or, when ``only`` names one, just that one (its module is named after it),
    so a run imports one command's dependencies, not every command's."""
    names = sorted(m.name for m in pkgutil.iter_modules(commands.__path__))
    if only is not None and only.replace("-", "_") in names:
        command = _load(only.replace("-", "_"))
        if command is not None and command.name == only:
            return [command]
    return [c for c in map(_load, names) if c is not None]


def _load(module_name: str) -> Command | None:
    module = importlib.import_module(f"{commands.__name__}.{module_name}")
    command = getattr(module, "COMMAND", None)
    return command if isinstance(command, Command) else None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coresnap", description="Catch, snapshot and read core dumps."
    )
    parser.add_argument("--version", action="version", version=f"coresnap {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text, configure, run in _commands(only):
        p = sub.add_parser(name, help=help_text, description=help_text)
        configure(p)
        p.set_defaults(run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--version"]:
        print(f"coresnap {__version__}")
        return 0
    first = argv[0] if argv and not argv[0].startswith("-") else None
    args = build_parser(first).parse_args(argv)
    try:
        return int(args.run(args))
    except CoresnapError as e:
        print(f"coresnap {args.command}: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
