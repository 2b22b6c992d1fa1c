"""``coresnap dump ID [-o FILE]``: write a dump's core (coredumpctl dump): a kept core, a
compressed one inflated, or the pending one; to stdout when it is not a terminal."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from coresnap.cli import hostopts
from coresnap.cli.commands import Command
from coresnap.cli.commands.info import DumpNotFound, find
from coresnap.spool import kept


def configure(p: argparse.ArgumentParser) -> None:
    hostopts.add(p)
    p.add_argument("id", help="the dump id (or a unique prefix)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the core here (default: stdout)")


def run(args: argparse.Namespace) -> int:
    _cfg, root = hostopts.load(args)
    item = find(root, args.id)
    cores = sorted(p for p, kind in item.files.items() if kind == "core")
    if not cores:
        raise DumpNotFound(root, args.id, f"{item.id} has no core left (retention purged it)")
    if not args.output and sys.stdout.isatty():
        raise DumpNotFound(root, args.id, "refusing to write a core to a terminal: -o FILE")
    dst = open(args.output, "wb") if args.output else sys.stdout.buffer  # noqa: SIM115
    try:
        kept.copy(cores[0], dst)
    finally:
        if args.output:
            dst.close()
    if args.output:
        size = Path(args.output).stat().st_size
        print(f"{args.output}: core of {item.exe} ({item.id}), {size} bytes", file=sys.stderr)
    return 0


COMMAND = Command("dump", "Write a dump's core to a file (or stdout).", configure, run)
