"""Run coresnapd for real on a temporary dump root (kernel dump tests): the daemon tests'
helpers (coresnapd, wait_for, names), plus the kernel tests' configuration."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.daemon.daemon_helpers import coresnapd, names, wait_for

CORESNAP = Path(sys.executable).parent / "coresnap"


def write_conf(path: Path, root: Path, **settings: str) -> Path:
    values = {"dump.root": str(root), "dump.quota": "1", "log.file": str(path.parent / "log"),
              "retry.backoff": "0.2s", "retry.backoff_max": "1s", "ratelimit.exe": "0",
              "ratelimit.fingerprint": "0"}  # fmt: skip
    values.update({k.replace("__", "."): v for k, v in settings.items()})
    path.write_text("".join(f"{k} = {v}\n" for k, v in values.items()))
    return path


__all__ = ["CORESNAP", "coresnapd", "names", "wait_for", "write_conf"]
