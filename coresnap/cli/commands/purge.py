"""``coresnap purge``: apply purge.age/purge.total now, or remove named or failed dumps."""

from __future__ import annotations

import argparse

from coresnap.cli import hostopts
from coresnap.cli.commands import Command
from coresnap.cli.commands.info import find
from coresnap.daemon.retention import Retention
from coresnap.spool import inventory
from coresnap.spool.stages import Spool, Stage


def configure(p: argparse.ArgumentParser) -> None:
    hostopts.add(p)
    p.add_argument("--failed", action="store_true", help="remove every failed dump")
    p.add_argument("--committed", action="store_true", help="remove every committed dump")
    p.add_argument("id", nargs="*", help="remove these dumps from every stage")


def _remove(item: inventory.Item) -> None:
    for path in item.files:
        path.unlink(missing_ok=True)
    if item.assets:
        item.assets.unlink(missing_ok=True)


def run(args: argparse.Namespace) -> int:
    cfg, root = hostopts.load(args)
    doomed = [find(root, prefix) for prefix in args.id]
    for item in inventory.scan(root):
        if (args.failed and item.stage is Stage.FAILED) or (
            args.committed and item.stage is Stage.COMMITTED
        ):
            doomed.append(item)
    freed = 0
    for item in doomed:
        freed += item.size
        _remove(item)
        print(f"removed {item.stage.value}/{item.id}")
    if args.id or args.failed or args.committed:
        print(f"removed {len(doomed)} dumps ({inventory.human_size(freed)}) from {root}")
    else:
        removed = Retention(Spool(root), cfg).purge()
        print(f"purged {len(removed)} dumps (purge.age {cfg['purge.age']:.0f}s, "
              f"purge.total {cfg['purge.total']} bytes)")  # fmt: skip
    return 0


COMMAND = Command("purge", "Remove old, failed or named dumps from this host.", configure, run)
