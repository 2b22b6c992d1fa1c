"""``coresnap gdb ID [gdb args...]``: gdb on a kept core and its executable."""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from coresnap.cli import hostopts
from coresnap.cli.commands import Command
from coresnap.cli.commands.info import DumpNotFound, find
from coresnap.spool import kept


def configure(p: argparse.ArgumentParser) -> None:
    hostopts.add(p)
    p.add_argument("id", help="the dump id (or a unique prefix)")
    p.add_argument("gdb_args", nargs=argparse.REMAINDER, help="passed to gdb (e.g. -batch -ex bt)")


def _core(root: str, prefix: str) -> tuple[Path, str | None]:
    item = find(root, prefix)
    cores = [p for p, kind in item.files.items() if kind == "core"]
    if not cores:
        raise DumpNotFound(root, prefix, f"{item.id} has no core left (retention purged it)")
    candidates = [item.meta.get(k) for k in ("exe_host_path", "exe", "exe_path")]
    return cores[0], next((str(c) for c in candidates if c and os.path.isfile(c)), None)


def run(args: argparse.Namespace) -> int:
    _cfg, root = hostopts.load(args)
    core, exe = _core(root, args.id)
    if kept.is_compressed(core):
        # gdb needs a plain file: inflate into a private temp dir that outlives the exec.
        plain = Path(tempfile.mkdtemp(prefix="coresnap-gdb-")) / kept.plain_name(core)
        with open(plain, "wb") as dst:
            kept.copy(core, dst)
        core = plain
    gdb = shutil.which("gdb")
    if not gdb:
        raise DumpNotFound(root, args.id, "gdb is not installed")
    argv = [gdb, *args.gdb_args, *([exe] if exe else []), f"--core={core}"]
    os.execv(gdb, argv)
    return 127  # not reached


COMMAND = Command("gdb", "Run gdb on a dump's kept core and its executable.", configure, run)
