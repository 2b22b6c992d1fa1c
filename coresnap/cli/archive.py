"""Entry point ``coresnap-archive``: the kernel's core_pattern pipe handler (stdlib only)."""

from __future__ import annotations

import sys

from coresnap.capture.archive import main

if __name__ == "__main__":
    sys.exit(main())
