from __future__ import annotations

import sys
from pathlib import Path

# The kernel-hook and coresnapd helpers (tests/capture, tests/daemon) serve these tests too.
for helpers in ("capture", "daemon"):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / helpers))
