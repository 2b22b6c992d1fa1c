"""``--version`` on every installed command, from the package's one version (issue 14)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from coresnap import __version__

BIN = Path(sys.executable).parent


@pytest.mark.parametrize("command", ["coresnap", "coresnapd", "coresnap-archive", "coroner",
                                     "coronerd"])  # fmt: skip
def test_every_command_has_version(command: str) -> None:
    done = subprocess.run([str(BIN / command), "--version"], capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{command} {__version__}\n", "")
