"""``coresnap list [-a] [-1] [--since T] [--until T] [--json] [MATCH]``: the dumps of this host,
by stage (seed 000's format), filtered as coredumpctl filters: MATCH is a pid, an executable's
path (it has a ``/``) or its name. Exits 1, saying why, when nothing is shown."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
import time

from coresnap.cli import hostopts
from coresnap.cli.commands import Command
from coresnap.errors import CoresnapError
from coresnap.spool import counters, inventory
from coresnap.spool.stages import Stage

_AGO = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_time(text: str, now: float | None = None) -> float:
    """``2026-12-04``, ``2026-12-04 10:30[:00]`` (local time), ``@1764843000`` (epoch) or a
    duration ago (``90s``, ``1h``, ``2d``, ``1w``) as seconds since the epoch.

    Raises:
        CoresnapError: none of those forms.
    """
    text = text.strip()
    if text.startswith("@") and text[1:].replace(".", "", 1).isdigit():
        return float(text[1:])
    ago = _AGO.fullmatch(text)
    if ago:
        return (time.time() if now is None else now) - float(ago[1]) * _UNITS[ago[2]]
    try:
        return dt.datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise CoresnapError(f"{text!r}: not a time (2026-12-04, '2026-12-04 10:30', "
                            "@EPOCH, or ago: 30m, 2h, 7d)") from None  # fmt: skip


def configure(p: argparse.ArgumentParser) -> None:
    hostopts.add(p)
    p.add_argument("-a", "--all", action="store_true", help="also the committed dumps")
    p.add_argument("-1", dest="latest", action="store_true",
                   help="only the latest dump (committed ones included)")  # fmt: skip
    p.add_argument("-S", "--since", metavar="TIME", help="crashed at or after TIME")
    p.add_argument("-U", "--until", metavar="TIME", help="crashed at or before TIME")
    p.add_argument("--json", action="store_true", help="one JSON array, every fact of each dump")
    p.add_argument("match", nargs="?", metavar="MATCH",
                   help="a pid, an executable path (has a /) or an executable name")  # fmt: skip


def matches(item: inventory.Item, match: str) -> bool:
    """coredumpctl's MATCH: a pid, an executable's path, or its name (or the process's comm)."""
    meta = item.meta
    if match.isdigit():
        return match in (str(meta.get("pid")), str(meta.get("ns_pid")))
    if "/" in match:
        return os.path.normpath(match) in (_exe_path(meta), meta.get("exe_host_path"))
    return match in (item.exe, meta.get("comm"))


def _exe_path(meta: dict) -> str | None:
    """The executable's path: what /proc said, else the kernel's %E."""
    return meta.get("exe") or meta.get("exe_path")


def _number(value: object) -> int | None:
    return int(value) if isinstance(value, (int, str)) and str(value).isdigit() else None


def _as_json(item: inventory.Item) -> dict:
    meta = item.meta
    return {
        "id": item.id, "stage": item.stage.value, "flags": item.flags, "exe": item.exe,
        "exe_path": _exe_path(meta), "pid": _number(meta.get("pid")), "signal": meta.get("signal_name"),
        "time": item.time, "size": item.size,
        "files": {str(path): kind for path, kind in sorted(item.files.items())},
        "assets": str(item.assets) if item.assets else None,
    }  # fmt: skip


def run(args: argparse.Namespace) -> int:
    _cfg, root = hostopts.load(args)
    if not os.path.isdir(root):
        raise CoresnapError(f"no dump root {root} (is coresnap installed? coresnap install)")
    if not os.access(root, os.R_OK | os.X_OK):
        raise CoresnapError(f"cannot read {root}: run as root or as a member of dump.group")
    items = inventory.scan(root)
    if not (args.all or args.latest):
        items = [i for i in items if i.stage is not Stage.COMMITTED]
    if args.match:
        items = [i for i in items if matches(i, args.match)]
    if args.since:
        since = parse_time(args.since)
        items = [i for i in items if i.time >= since]
    if args.until:
        until = parse_time(args.until)
        items = [i for i in items if i.time <= until]
    if args.latest:
        items = items[-1:]
    if not items:
        print(f"coresnap list: no dumps match under {root}" if _filtered(args) else
              f"coresnap list: no dumps under {root}", file=sys.stderr)  # fmt: skip
        return 1
    if args.json:
        print(json.dumps([_as_json(i) for i in items], indent=1))
        return 0
    width = inventory.exe_width(items)
    for item in items:
        print(inventory.line(item, width))
    dropped = 0 if _filtered(args) else counters.dropped(counters.read(root))
    print()
    print(inventory.totals(items, dropped))
    return 0


def _filtered(args: argparse.Namespace) -> bool:
    return bool(args.match or args.since or args.until)


COMMAND = Command("list", "List the dumps of this host by stage (c core, s snapshot, a assets).",
                  configure, run)  # fmt: skip
