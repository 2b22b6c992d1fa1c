"""Entry point ``coresnap-archive``: the kernel's core_pattern pipe handler (stdlib only).

The kernel gives the handler no stderr worth the name: a bug that escapes
:func:`coresnap.capture.archive.main` is logged as one line naming where it happened (exit
status 3) instead of a traceback nobody reads.
"""

from __future__ import annotations

import sys
import traceback

from coresnap import __version__
from coresnap.capture import archive
from coresnap.capture.log import Log

INTERNAL_ERROR = 3


def main() -> int:
    """Archive the core the kernel pipes in (see :func:`coresnap.capture.archive.main`)."""
    if sys.argv[1:] == ["--version"]:
        print(f"coresnap-archive {__version__}")
        return 0
    try:
        return archive.main()
    except Exception as e:  # noqa: BLE001 - the last line of defence of the pipe handler
        where = traceback.extract_tb(e.__traceback__)[-1]
        Log("coresnap-archive").error(
            f"internal error: {type(e).__name__}: {e} (at {where.filename}:{where.lineno})"
        )
        return INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
