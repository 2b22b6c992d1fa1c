"""``coresnap reclassify DIR [--diff]``: re-run the analysis rules on stored snapshots.

Classification and fingerprint are recomputed without the core: facts that needed memory (the
faulting instruction, the abort message, the heap proof) come from the observations each
snapshot stored when it was made. Nothing is written; the output says what a rule change would
change, one line per snapshot (``--diff``: only the snapshots whose result changes).
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path
from typing import Any

from coresnap.analysis import analyze, document
from coresnap.cli.commands import Command
from coresnap.cli.progress import progress
from coresnap.errors import CoresnapError
from coresnap.snapshot.format import load
from coresnap.spool.inventory import FILES

# The (stage directory, suffix) pairs that hold a snapshot in a dump root: committed/<id>, ...
_SPOOL_SNAPSHOTS = {
    (stage.value, suffix) for (stage, suffix), kind in FILES.items() if kind == "snapshot"
}


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "directory",
        metavar="DIR",
        help="a directory searched for *.snap files and a dump root's snapshots",
    )
    p.add_argument("--diff", action="store_true", help="show only snapshots whose result changes")


def _summary(snapshot: dict[str, Any]) -> tuple[str, str]:
    labels = document.labels(snapshot)
    fp = (snapshot.get("fingerprint") or {}).get("hash") or "-"
    return " ".join(labels) or "-", fp[:16]


def _compare(path: Path) -> tuple[str, bool]:
    old = load(path)
    new = analyze(copy.deepcopy(old), None)
    (old_labels, old_fp), (new_labels, new_fp) = _summary(old), _summary(new)
    changed = (old_labels, old_fp) != (new_labels, new_fp)
    if not changed:
        return f"  {path}: {new_labels} [{new_fp}]", False
    parts = []
    if old_labels != new_labels:
        parts.append(f"labels {old_labels} -> {new_labels}")
    if old_fp != new_fp:
        parts.append(f"fingerprint {old_fp} -> {new_fp}")
    return f"* {path}: " + "; ".join(parts), True


def _is_snapshot(path: Path) -> bool:
    if path.suffix == ".snap":
        return path.is_file()
    dump_id, dot, rest = path.name.partition(".")
    in_spool = (path.parent.name, dot + rest) in _SPOOL_SNAPSHOTS and len(dump_id) == 32
    return in_spool and path.is_file()


def run(args: argparse.Namespace) -> int:
    root = Path(args.directory)
    if not root.is_dir():
        raise CoresnapError(f"{root}: not a directory")
    files = sorted(p for p in root.rglob("*") if _is_snapshot(p))
    changed = failed = 0
    with progress("reclassify", lines=False) as step:
        for done, path in enumerate(files, 1):
            step("snapshots", done, len(files))
            try:
                line, differs = _compare(path)
            except CoresnapError as e:
                print(f"! {path}: {e}")
                failed += 1
                continue
            changed += differs
            if differs or not args.diff:
                print(line)
    print(f"{len(files)} snapshots, {changed} changed, {failed} unreadable")
    return 0


COMMAND = Command(
    "reclassify", "Re-run classification and fingerprinting on stored snapshots.", configure, run
)
