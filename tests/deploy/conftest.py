from __future__ import annotations

import sys
from pathlib import Path

# The kernel-hook helpers (tests/capture/hook.py) serve the daemon tests too.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "capture"))
