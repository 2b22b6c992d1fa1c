"""Run the real ``coresnap`` CLI as a user would (a new Python process)."""

from __future__ import annotations

import subprocess
import sys


def coresnap(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``coresnap ARGS...``: its exit status, stdout and stderr (text)."""
    return subprocess.run(
        [sys.executable, "-m", "coresnap.cli.coresnap", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
