from __future__ import annotations

import sys
from pathlib import Path

# Helper modules (crashes, paths, ...) are imported by name from every test directory.
sys.path.insert(0, str(Path(__file__).resolve().parent))
