from __future__ import annotations

import sys
from pathlib import Path

# coronerd_server (the real store on loopback) lives with the store tests.
_STORE = str(Path(__file__).resolve().parents[1] / "store")
if _STORE not in sys.path:
    sys.path.insert(0, _STORE)
