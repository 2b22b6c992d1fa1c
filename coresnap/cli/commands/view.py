"""``coresnap view FILE|ID``: read a snapshot in the terminal (no core or binaries needed):
a snapshot file, or the snapshot of a dump of this host (ID: a unique prefix)."""

from __future__ import annotations

import argparse
import os

from coresnap.cli import hostopts
from coresnap.cli.commands import Command
from coresnap.cli.commands.info import DumpNotFound, find


def configure(p: argparse.ArgumentParser) -> None:
    hostopts.add(p)
    p.add_argument("file", metavar="FILE|ID", help="a snapshot (.snap, or JSON), or a dump id")
    p.add_argument("--thread", type=int, metavar="N", help="show one thread (tid or index)")
    p.add_argument("--full", action="store_true", help="every frame, every variable")
    p.add_argument("--width", type=int, help="terminal width (default: detected)")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from coresnap.snapshot.format import load
    from coresnap.snapshot.view import show

    snap = load(args.file if os.path.exists(args.file) else _spooled(args))
    console = Console(width=args.width, highlight=False, soft_wrap=False)
    show(snap, console, thread=args.thread, full=args.full)
    return 0


def _spooled(args: argparse.Namespace) -> str:
    """The snapshot file of dump ``args.file`` (an id prefix) under the dump root."""
    _cfg, root = hostopts.load(args)
    item = find(root, args.file)
    snaps = [p for p, kind in item.files.items() if kind == "snapshot"]
    if not snaps:
        raise DumpNotFound(root, args.file, f"{item.id} has no snapshot yet ({item.stage.value})")
    return str(snaps[0])


COMMAND = Command("view", "Show a snapshot in the terminal.", configure, run)
