"""Imports run one way: no cycle between coresnap's packages or modules, and no package imports
one above it in tools/import_graph.py's LAYERS (issue 16)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[1] / "tools" / "import_graph.py"


def test_packages_import_only_packages_below_them() -> None:
    done = subprocess.run([sys.executable, str(TOOL), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "package cycles: 0" in done.stdout and "module cycles: 0" in done.stdout
