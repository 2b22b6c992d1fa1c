"""``coresnap list [-a] [exe]``: the dumps of this host, by stage (seed 000's format)."""

from __future__ import annotations

import argparse

from coresnap.cli import hostopts
from coresnap.cli.commands import Command
from coresnap.spool import counters, inventory
from coresnap.spool.stages import Stage


def configure(p: argparse.ArgumentParser) -> None:
    hostopts.add(p)
    p.add_argument("-a", "--all", action="store_true", help="also the committed dumps")
    p.add_argument("exe", nargs="?", help="only dumps of this executable (file name)")


def run(args: argparse.Namespace) -> int:
    _cfg, root = hostopts.load(args)
    items = inventory.scan(root)
    if not args.all:
        items = [i for i in items if i.stage is not Stage.COMMITTED]
    if args.exe:
        items = [i for i in items if i.exe == args.exe]
    for item in items:
        print(inventory.line(item))
    dropped = counters.dropped(counters.read(root)) if not args.exe else 0
    print()
    print(inventory.totals(items, dropped))
    return 0


COMMAND = Command("list", "List the dumps of this host by stage (c core, s snapshot, a assets).",
                  configure, run)  # fmt: skip
