"""Helpers for the minicore tests: real crashes in four languages, a minicore cut from each
core, the snapshots of both, and the core reads a snapshot makes (seen by strace)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from coresnap.capture import minicore, readahead
from tests import crashes

HERE = Path(__file__).resolve().parent
PROGRAMS = HERE / "programs"
PYTHON = "/usr/bin/python3"
BUDGET = 32 << 20


@dataclass(frozen=True)
class Case:
    """A crash: the executable (built on demand), its arguments and environment."""

    name: str
    exe: Callable[[], Path]
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)


def build_go(source: str) -> Path:
    """``go build`` of one file under tests/minicore/programs, cached like crashes.build."""
    src = PROGRAMS / source
    key = hashlib.sha256(src.read_bytes()).hexdigest()[:16]
    out = crashes._BUILD_CACHE / f"{src.stem}-go-{key}"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + f".tmp{os.getpid()}")
        env = dict(os.environ, GOFLAGS="-buildvcs=false", GO111MODULE="off")
        subprocess.run(["go", "build", "-o", str(tmp), str(src)], check=True, env=env,
                       capture_output=True, cwd=PROGRAMS)  # fmt: skip
        os.replace(tmp, out)
    return out


def _c(source: str) -> Callable[[], Path]:
    return lambda: crashes.build(source)


CASES = (
    Case("c-null", _c("cls_null.c")),
    Case("c-heap-uaf", _c("cls_uaf_fastbin.c")),
    Case("c-heap-corruption", _c("cls_heap_corruption.c")),
    Case("c-assert", _c("cls_assert.c")),
    Case("c-64-threads", _c("snap_threads.c")),
    Case("c-stack-overflow", _c("cls_stack_overflow.c"), ("thread",)),
    Case("c++-uncaught-exception", _c("cls_uncaught_exception.cc")),
    Case("c++-classes", _c("snap_cxx.cc")),
    Case("go-nil-map-entry", lambda: build_go("go_nil.go"), env={"GOTRACEBACK": "crash"}),
    Case("python-segv", lambda: Path(PYTHON), ("-c", "import ctypes; ctypes.string_at(0)")),
    Case("python-abort", lambda: Path(PYTHON), ("-c", "import os; x = [1] * 99999; os.abort()")),
)


def crash(case: Case, work: Path) -> crashes.Crash:
    env = {**os.environ, **case.env} if case.env else None
    return crashes.crash(case.exe(), case.args, cwd=work, env=env)


def cut(core: Path, out: Path, mode: str = "minicore") -> minicore.Result:
    """The minicore of ``core`` (read ahead from the core itself, as /proc/<pid>/mem would be)."""
    memory = readahead.CoreMemory(core)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with open(core, "rb", buffering=0) as src:
            return minicore.stream(src, fd, 1 << 62, None, mode=mode, memory=lambda: memory,
                                   budget=BUDGET)  # fmt: skip
    finally:
        os.close(fd)
        memory.close()


def snapshot(core: Path, exe: Path, trace: Path | None = None) -> dict:
    """``coresnap snapshot CORE EXE --json`` (under strace, into ``trace``, when given)."""
    cmd = [sys.executable, "-m", "coresnap.cli.coresnap", "snapshot", str(core), str(exe), "--json"]
    if trace is not None:
        cmd = ["strace", "-f", "-qq", "-y", "-s", "0", "-e", "trace=pread64", "-o", str(trace),
               *cmd]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


_PREAD = re.compile(r"^(\d+)\s+pread64\((\d+)<([^>]*)>,.*, (\d+), (\d+)\) = (\d+)$")
_UNFINISHED = re.compile(r"^(\d+)\s+pread64\((\d+)<([^>]*)>,.*<unfinished \.\.\.>$")
_RESUMED = re.compile(r"^(\d+)\s+<\.\.\. pread64 resumed>.*, (\d+), (\d+)\) = (\d+)$")


def core_reads(trace: Path, core: Path) -> list[tuple[int, int]]:
    """``(file offset, bytes)`` of every pread64 of ``core`` in an strace log."""
    reads, waiting = [], {}
    for line in trace.read_text(errors="replace").splitlines():
        if m := _PREAD.match(line):
            if m[3] == str(core):
                reads.append((int(m[5]), int(m[6])))
        elif m := _UNFINISHED.match(line):
            waiting[m[1]] = m[3]
        elif (m := _RESUMED.match(line)) and waiting.pop(m[1], None) == str(core):
            reads.append((int(m[3]), int(m[4])))
    return reads


def _first_missing(kept: readahead.CoreMemory, address: int, size: int) -> int | None:
    at = address
    while at < address + size:
        got = kept.read(at, address + size - at)
        if not got:
            return at
        at += len(got)
    return None


def missing_reads(full: Path, mini: Path, reads: list[tuple[int, int]]) -> list[str]:
    """The reads of ``full``'s memory whose bytes ``mini`` does not hold."""
    loads = readahead.CoreMemory(full).loads
    kept = readahead.CoreMemory(mini)
    missing = []
    for offset, size in reads:
        for vaddr, filesz, start in loads:
            lo, hi = max(offset, start), min(offset + size, start + filesz)
            at = _first_missing(kept, vaddr + lo - start, hi - lo) if lo < hi else None
            if at is not None:
                missing.append(f"{hi - lo} bytes at {vaddr + lo - start:#x}: {at:#x} not kept")
    return missing
