"""Run coresnapd for real on a temporary dump root (kernel dump tests)."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

CORESNAPD = Path(sys.executable).parent / "coresnapd"
CORESNAP = Path(sys.executable).parent / "coresnap"


def write_conf(path: Path, root: Path, **settings: str) -> Path:
    values = {"dump.root": str(root), "dump.quota": "1", "log.file": str(path.parent / "log"),
              "retry.backoff": "0.2s", "retry.backoff_max": "1s", "ratelimit.exe": "0",
              "ratelimit.fingerprint": "0"}  # fmt: skip
    values.update({k.replace("__", "."): v for k, v in settings.items()})
    path.write_text("".join(f"{k} = {v}\n" for k, v in values.items()))
    return path


@contextlib.contextmanager
def coresnapd(config: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(config.parent / "coresnapd.stderr", "ab") as err:
        proc = subprocess.Popen([str(CORESNAPD), "-c", str(config)], stdout=subprocess.DEVNULL,
                                stderr=err)  # fmt: skip
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def wait_for(predicate: Callable[[], bool], timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []
