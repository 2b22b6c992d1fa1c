"""``coresnap retry ID``: send a failed dump back to the stage it failed in."""

from __future__ import annotations

import argparse

from coresnap.cli import hostopts
from coresnap.cli.commands import Command
from coresnap.cli.commands.info import DumpNotFound, find
from coresnap.spool.stages import Spool, Stage


def configure(p: argparse.ArgumentParser) -> None:
    hostopts.add(p)
    p.add_argument("id", nargs="+", help="failed dump ids (or unique prefixes)")


def run(args: argparse.Namespace) -> int:
    _cfg, root = hostopts.load(args)
    spool = Spool(root)
    for prefix in args.id:
        item = find(root, prefix)
        if item.stage is not Stage.FAILED:
            raise DumpNotFound(root, prefix, f"{item.id} is {item.stage.value}, not failed")
        stage = spool.retry(item.id)
        print(f"{item.id}: failed -> {stage.value}")
    return 0


COMMAND = Command("retry", "Send failed dumps back to be processed again.", configure, run)
