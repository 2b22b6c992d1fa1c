"""``make bench``: run every benchmark module of this package (each has ``main() -> None``)
and print what it measured, side by side with the tools people would use instead."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path


def main() -> int:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))
    only = set(sys.argv[1:])
    failed = 0
    for name in names:
        if only and name not in only:
            continue
        module = importlib.import_module(f"bench.{name}")
        run = getattr(module, "main", None)
        if run is None:
            continue
        print(f"== bench.{name}", flush=True)
        started = time.monotonic()
        try:
            run()
        except Exception as e:  # noqa: BLE001 - one broken bench must not hide the others
            print(f"   FAILED: {type(e).__name__}: {e}", flush=True)
            failed += 1
        print(f"   ({time.monotonic() - started:.1f} s)\n", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
