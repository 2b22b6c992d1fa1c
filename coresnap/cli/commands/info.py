"""``coresnap info ID``: everything this host knows about one dump (ID: a unique prefix)."""

from __future__ import annotations

import argparse
import time

from coresnap.cli import hostopts
from coresnap.cli.commands import Command
from coresnap.errors import DumpNotFound
from coresnap.spool import inventory

FACTS = ("pid", "ns_pid", "signal_name", "exe", "exe_host_path", "comm", "uid", "gid",
         "hostname", "cwd", "root")  # fmt: skip


def find(root: str, prefix: str) -> inventory.Item:
    """The dump ``prefix`` names. Raises DumpNotFound."""
    try:
        return inventory.find(root, prefix)
    except KeyError as e:
        raise DumpNotFound(root, prefix, str(e.args[0])) from None


def configure(p: argparse.ArgumentParser) -> None:
    hostopts.add(p)
    p.add_argument("id", help="the dump id (or a unique prefix)")


def run(args: argparse.Namespace) -> int:
    _cfg, root = hostopts.load(args)
    item = find(root, args.id)
    print(f"id:       {item.id}")
    print(f"stage:    {item.stage.value} ({item.flags})")
    print(f"crashed:  {time.ctime(item.time)}")
    for key in FACTS:
        if item.meta.get(key) not in (None, ""):
            print(f"{key + ':':<9} {item.meta[key]}")
    core = item.meta.get("core") or {}
    if core:
        cut = f", truncated by {core.get('truncated_by')}" if core.get("truncated") else ""
        print(f"core:     {core.get('size')} bytes, {core.get('disk_bytes')} on disk{cut}")
    for path, kind in sorted(item.files.items()):
        if kind == "reason":
            print(f"failed:   {path.read_text().strip()}")
        else:
            print(f"{kind + ':':<9} {path} ({inventory.human_size(path.stat().st_size)})")
    if item.assets:
        print(f"assets:   {item.assets}")
    pattern = item.meta.get("core_pattern") or {}
    if pattern:
        print("core_pattern: " + " ".join(f"{k}={v}" for k, v in pattern.items()))
    _backtrace(item)
    return 0


MAX_FRAMES = 32


def _backtrace(item: inventory.Item) -> None:
    """The crashing thread's frames, from the dump's snapshot (a core alone has none yet)."""
    from coresnap.errors import SnapshotFormatError
    from coresnap.snapshot.format import load
    from coresnap.snapshot.view_values import frame_line

    snaps = [p for p, kind in item.files.items() if kind == "snapshot"]
    if not snaps:
        print("backtrace: none yet (the snapshot is made after pending/; coresnap view ID then)")
        return
    try:
        snap = load(snaps[0])
    except SnapshotFormatError as e:
        print(f"backtrace: unreadable snapshot: {e}")
        return
    thread = next((t for t in snap["threads"] if t.get("crashed")), None)
    if thread is None:
        print("backtrace: no crashed thread in the snapshot")
        return
    frames = thread.get("frames") or []
    print(f"backtrace of thread {thread.get('tid')} ({len(frames)} frames):")
    for frame in frames[:MAX_FRAMES]:
        print("  " + frame_line(frame))
    if len(frames) > MAX_FRAMES:
        print(f"  … {len(frames) - MAX_FRAMES} more (coresnap view {item.id[:12]})")


COMMAND = Command("info", "Show one dump: stage, files, crash facts, failure reason.",
                  configure, run)  # fmt: skip
