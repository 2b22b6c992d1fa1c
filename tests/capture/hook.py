"""Helpers for tests that install coresnap-archive as the real kernel.core_pattern.

:func:`archive_hook` takes the exclusive lock of ``crashes.core_pattern`` (so no other test
crashes a program meanwhile), sets the pipe pattern and ``kernel.core_pipe_limit``, and
restores both in ``finally``. :func:`crash_piped` runs a program to its death and waits for
its handler: with ``core_pipe_limit`` > 0 the kernel reaps the process once the handler has
closed the pipe, which coresnap-archive does as soon as the core is read (before its checks
and fsync), so the helper waits for the handler's exit too; when it returns the dump is in
``pending/`` (or was dropped, and counted).
"""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from coresnap.capture import fields
from tests import crashes

ROOT = Path(__file__).resolve().parents[2]
PIPE_LIMIT = Path("/proc/sys/kernel/core_pipe_limit")
ARCHIVE = Path(sys.executable).parent / "coresnap-archive"


def short_dir(prefix: str = "cs-") -> Path:
    """A short temp dir: core_pattern is limited to 128 bytes (CORENAME_MAX_SIZE)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


def write_conf(path: Path, **settings: str) -> Path:
    lines = [f"{k.replace('__', '.')} = {v}" for k, v in settings.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.contextmanager
def pipe_limit(value: int | None) -> Iterator[None]:
    old = PIPE_LIMIT.read_text().strip()
    try:
        if value is not None:
            PIPE_LIMIT.write_text(f"{value}\n")
        yield
    finally:
        if PIPE_LIMIT.read_text().strip() != old:
            PIPE_LIMIT.write_text(old + "\n")


@contextlib.contextmanager
def archive_hook(root: Path | None, conf: Path | None = None, limit: int = 64) -> Iterator[str]:
    """Pipe every core on the machine to coresnap-archive for the duration: into ``root``, or
    as ``conf`` says (it sets dump.root: the pattern has room for one path only)."""
    options = ["-c", str(conf)] if conf else ["-r", str(root)]
    pattern = fields.pattern(str(ARCHIVE), options)
    assert len(pattern) < fields.CORENAME_MAX_SIZE, pattern
    with crashes.core_pattern(pattern), pipe_limit(limit):
        yield pattern


def _core_limit(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (limit, limit))


def crash_piped(
    exe: Path, args: Sequence[str] = (), core_limit: int = resource.RLIM_INFINITY
) -> tuple[int, int]:
    """Run ``exe`` until it dies of a signal (under an installed hook): (pid, signal)."""
    proc = subprocess.Popen(
        [str(exe), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=lambda: _core_limit(core_limit),
    )
    proc.wait(timeout=120)
    assert proc.returncode < 0, f"{exe.name} exited {proc.returncode}, not by a signal"
    wait_for_handler(proc.pid)
    return proc.pid, -proc.returncode


def handlers_of(pid: int | None) -> list[int]:
    """The coresnap-archive processes handling the core of ``pid`` (%P among their arguments;
    None: of any process). The kernel starts the handler before it writes the core, so once
    ``pid`` is reaped its handler is either among these or gone."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            argv = Path(entry.path, "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(a.endswith(b"coresnap-archive") for a in argv[:2]) and (
            pid is None or str(pid).encode() in argv
        ):
            found.append(int(entry.name))
    return found


def wait_for_handler(pid: int | None, timeout: float = 120) -> None:
    """Until no coresnap-archive handles the core of ``pid`` (None: of any process)."""
    deadline = time.monotonic() + timeout
    while handlers_of(pid):
        assert time.monotonic() < deadline, f"the handler of pid {pid} still runs after {timeout} s"
        time.sleep(0.01)


def pending_ids(root: Path) -> list[str]:
    d = root / "pending"
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []


def env_without_conf() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "CORESNAP_CONF"}
