"""Snapshots of real crashes for the console tests: real programs, real cores, `coresnap snapshot`."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path

from tests.crashes import build, crash
from tests.run_cli import coresnap

# (program, expected signal): three different faults, so three groups.
PROGRAMS = (
    ("cls_null.c", signal.SIGSEGV),
    ("cls_abort.c", signal.SIGABRT),
    ("cls_div_by_zero.c", signal.SIGFPE),
)


@dataclass(frozen=True)
class RealCrash:
    program: str
    exe: Path
    core: Path


def real_crash(program: str, sig: int, work: Path) -> RealCrash:
    c = crash(build(program), cwd=work, expect_signal=sig)
    return RealCrash(program, c.exe, c.core)


def snapshot(c: RealCrash, out: Path, version: str) -> Path:
    """A snapshot of ``c`` (a fresh object id each time) with attribute ``version``."""
    done = coresnap(
        "snapshot",
        "-o",
        str(out),
        "--kv",
        f"version:{version}",
        str(c.core),
        str(c.exe),
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return out


# (program, the headline the object page opens on): deliberate deaths, all SIGABRT.
ABORTS = (
    ("cls_assert.c", "Assertion 'count > 1 && \"need two arguments\"' failed"),
    ("cls_uncaught_exception.cc", "Uncaught exception std::runtime_error: empty port"),
    ("cls_abort.c", "abort() called in give_up (cls_abort.c:7)"),
)
