"""``coresnap fingerprint [--explain] FILE...``: the fingerprint of stored snapshots.

The fingerprint is recomputed from the snapshot's frames with the current rules (no core
needed); ``--explain`` prints every step of the algorithm (``coresnap/analysis/lists/README.md``)
and the frames left after it, so a surprising grouping can be traced to the rule that caused it.
"""

from __future__ import annotations

import argparse

from coresnap.analysis.fingerprint import explain
from coresnap.cli.commands import Command
from coresnap.snapshot.format import load


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="a snapshot (.snap, or JSON)")
    p.add_argument("--explain", action="store_true", help="show each step of the algorithm")


def run(args: argparse.Namespace) -> int:
    for path in args.files:
        fp, steps = explain(load(path))
        if not args.explain:
            print(f"{fp['hash']}  {path}")
            continue
        print(f"{path}: fingerprint v{fp['version']}")
        for step in steps:
            print(f"  {step.title}")
            for i, frame in enumerate(step.frames):
                print(f"    #{i:<2} {frame}")
    return 0


COMMAND = Command(
    "fingerprint",
    "Print (and with --explain, derive) the fingerprint of snapshots.",
    configure,
    run,
)
