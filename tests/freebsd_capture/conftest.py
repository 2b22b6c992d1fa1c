from __future__ import annotations

import sys
from pathlib import Path

# The kernel dump samples (tests/kernel/kernel_samples.py) feed the rc.d script's start test.
_KERNEL = str(Path(__file__).resolve().parents[1] / "kernel")
if _KERNEL not in sys.path:
    sys.path.insert(0, _KERNEL)
