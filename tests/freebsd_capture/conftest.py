from __future__ import annotations

import sys
from pathlib import Path

# The kernel dump samples (tests/kernel/kernel_samples.py) feed the rc.d script's start test;
# wait_for and the coresnapd runner come from the daemon tests.
for _helpers in ("kernel", "daemon"):
    _dir = str(Path(__file__).resolve().parents[1] / _helpers)
    if _dir not in sys.path:
        sys.path.insert(0, _dir)
