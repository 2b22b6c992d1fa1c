"""Entry point ``coresnap-archive``: the kernel's core_pattern pipe handler (stdlib only).

The kernel writes the core into a 64 KiB pipe and waits while it is full: the first thing the
handler does, before its imports (~0.1 s at every crash), is to widen the pipe to
:data:`EARLY_PIPE`, so that the kernel writes that much of the core while Python starts.

The kernel gives the handler no stderr worth the name: a bug that escapes
:func:`coresnap.capture.archive.main` is logged as one line naming where it happened (exit
status 3) instead of a traceback nobody reads.
"""

from __future__ import annotations

import sys

from coresnap.capture import pipe

INTERNAL_ERROR = 3
EARLY_PIPE = 64 << 20  # the kernel's usermode helper may go beyond fs.pipe-max-size
FALLBACK_PIPE = 1 << 20  # fs.pipe-max-size's default: what a process without the right gets


def main() -> int:
    """Archive the core the kernel pipes in (see :func:`coresnap.capture.archive.main`)."""
    if sys.argv[1:] == ["--version"]:
        from coresnap import __version__

        print(f"coresnap-archive {__version__}")
        return 0
    pipe.widen(0, EARLY_PIPE, FALLBACK_PIPE)
    import traceback

    from coresnap.capture import archive
    from coresnap.capture.log import Log

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
