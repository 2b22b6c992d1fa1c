from __future__ import annotations

import sys
from pathlib import Path

# coronerd_server (the real store on loopback) lives with the store tests, the coresnapd
# helpers with the daemon tests.
for _helpers in ("store", "daemon"):
    _dir = str(Path(__file__).resolve().parents[1] / _helpers)
    if _dir not in sys.path:
        sys.path.insert(0, _dir)
