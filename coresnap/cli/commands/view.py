"""``coresnap view FILE``: read a snapshot in the terminal (no core or binaries needed)."""

from __future__ import annotations

import argparse

from coresnap.cli.commands import Command


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="a snapshot (.snap, or JSON)")
    p.add_argument("--thread", type=int, metavar="N", help="show one thread (tid or index)")
    p.add_argument("--full", action="store_true", help="every frame, every variable")
    p.add_argument("--width", type=int, help="terminal width (default: detected)")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from coresnap.snapshot.format import load
    from coresnap.snapshot.view import show

    snap = load(args.file)
    console = Console(width=args.width, highlight=False, soft_wrap=False)
    show(snap, console, thread=args.thread, full=args.full)
    return 0


COMMAND = Command("view", "Show a snapshot in the terminal.", configure, run)
