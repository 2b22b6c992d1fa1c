"""What the snapshot tests share: the programs, a crash with its snapshot, the CLI."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coresnap.snapshot import validate
from coresnap.snapshot.build import build_snapshot
from tests.crashes import Crash, build, crash
from tests.run_cli import coresnap

# name -> (source, flags, expected signal)
PROGRAMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "c_O0": ("snap_basic.c", ("-g", "-O0")),
    "c_O2": ("snap_basic.c", ("-g", "-O2")),
    "c_nopie": ("snap_basic.c", ("-g", "-O0", "-no-pie", "-fno-pie")),
    "c_stripped": ("snap_basic.c", ("-O2", "-s")),
    "cxx_O0": ("snap_cxx.cc", ("-g", "-O0")),
    "cxx_O2": ("snap_cxx.cc", ("-g", "-O2")),
    "threads64": ("snap_threads.c", ("-g", "-O0")),
}


@dataclass
class Crashed:
    name: str
    crash: Crash
    snapshot: dict[str, Any]


def lib_program(out_dir: Path) -> Path:
    """snap_libmain (with -g) linked against libsnaplib built without -g, by absolute path."""
    lib = build(
        "snap_lib.c", flags=("-shared", "-fPIC", "-O1"), name="libsnaplib.so", out_dir=out_dir
    )
    return build("snap_libmain.c", flags=("-g", "-O0"), libs=(str(lib),), out_dir=out_dir)


def crash_and_snapshot(name: str, exe: Path, cwd: Path) -> Crashed:
    result = crash(exe, cwd=cwd, expect_signal=signal.SIGSEGV)
    snap = build_snapshot(result.core, str(result.exe))
    validate(snap)
    return Crashed(name, result, snap)


__all__ = ["PROGRAMS", "Crashed", "coresnap", "crash_and_snapshot", "lib_program"]
