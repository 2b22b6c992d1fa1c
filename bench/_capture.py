"""What the capture benches share: the test helpers, a coresnapd on a bench conf, the
core_pattern held for the whole bench (restored in finally), and timing a crash end to end."""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from coresnap.capture import fields
from tests import crashes
from tests.capture.hook import ARCHIVE, pipe_limit
from tests.daemon.daemon_helpers import CORESNAPD, names, stop, wait_for

ROOT = Path(__file__).resolve().parents[1]

BUILT_IN = (
    "coresnap snapshot %c -o %S --resource %a --kv coresnap.object:%B --isolate --timeout 600"
)
DENSE_HEAP = ROOT / "tests" / "minicore" / "programs" / "dense_heap.c"


def write_conf(path: Path, root: Path, store: Path, **settings: str) -> Path:
    """A coresnap.conf for a bench: the real snapshot step (warm), puts that copy to ``store``."""
    store.mkdir(parents=True, exist_ok=True)
    values = {"dump.root": str(root), "dump.quota": "1", "dump.max_size": "8G",
              "log.file": str(path.parent / "coresnapd.log"), "snapshot.command": BUILT_IN,
              "snapshot.timeout": "900s", "put.command": f"cp %S {store}/%B",
              "ratelimit.exe": "0", "ratelimit.fingerprint": "0", "metrics.listen": ""}  # fmt: skip
    values.update({k.replace("__", "."): v for k, v in settings.items()})
    path.write_text("".join(f"{k} = {v}\n" for k, v in values.items()))
    return path


@contextlib.contextmanager
def coresnapd(conf: Path) -> Iterator[subprocess.Popen[bytes]]:
    """coresnapd on ``conf``, ready (its warm worker started); stopped in finally."""
    log = conf.parent / "coresnapd.log"
    proc = subprocess.Popen([str(CORESNAPD), "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_for(lambda: log.exists() and "coresnapd watching" in log.read_text(), timeout=300)
        yield proc
    finally:
        stop(proc)


@contextlib.contextmanager
def core_pattern_held() -> Iterator[None]:
    """The exclusive core_pattern lock for the whole bench; the pattern and pipe limit back in
    finally. Set patterns inside with :func:`set_pattern`."""
    with crashes.core_pattern(None) as before, pipe_limit(64):
        try:
            yield
        finally:
            crashes.CORE_PATTERN.write_text(before + "\n")


def set_pattern(pattern: str) -> None:
    assert len(pattern) < fields.CORENAME_MAX_SIZE, pattern
    crashes.CORE_PATTERN.write_text(pattern + "\n")


def archive_pattern(conf: Path) -> str:
    return fields.pattern(str(ARCHIVE), ["-c", str(conf)])


def _unlimited_core() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def crash_when_ready(exe: Path, args: list[str]) -> tuple[float, float]:
    """Run ``exe`` (a program that prints "ready" then crashes on a line of input): the
    monotonic time of the line, and the seconds from it to the death (the core handled)."""
    proc = subprocess.Popen([str(exe), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, preexec_fn=_unlimited_core)  # fmt: skip
    assert proc.stdout is not None and proc.stdin is not None
    if proc.stdout.readline() != b"ready\n":
        proc.kill()
        raise RuntimeError(f"{exe.name} did not get ready")
    started = time.monotonic()
    proc.stdin.write(b"go\n")
    proc.stdin.flush()
    proc.wait(timeout=1800)
    return started, time.monotonic() - started


def new_name(directory: Path, before: list[str], timeout: float = 1800) -> str:
    """The name that appears in ``directory`` beside ``before``, waited for."""
    found: list[str] = []

    def appeared() -> bool:
        found[:] = [n for n in names(directory) if n not in before and not n.endswith(".core")]
        return bool(found)

    wait_for(appeared, timeout=timeout, what=f"a new file in {directory}")
    return found[0]


def load_average() -> str:
    return f"{os.getloadavg()[0]:.1f}"


__all__ = ["CORESNAPD", "DENSE_HEAP", "crashes", "names", "wait_for"]
