"""The child side of :mod:`coresnap.snapshot.isolate`: a JSON request on stdin, a snapshot file
out. Exit 0 on success, 3 when the core is unreadable, 4 when the snapshot failed otherwise.

:func:`run_command` is the same child inside coresnapd's warm worker (coresnap/daemon/zygote.py):
a process forked with everything imported runs ``coresnap snapshot ARGS`` as the CLI would.
"""

from __future__ import annotations

import ctypes
import json
import sys
import traceback

from coresnap.errors import CoreFileUnreadable, CoreFormatError, CoresnapError
from coresnap.snapshot.bounds import Bounds
from coresnap.snapshot.build import build_snapshot
from coresnap.snapshot.format import encode
from coresnap.snapshot.isolate import EXIT_CORE_UNREADABLE, EXIT_ENGINE_FAILED, EXIT_OK

PR_SET_DUMPABLE = 4  # <linux/prctl.h>


def not_dumpable() -> None:
    # A worker crashing on a hostile core must not itself be caught as a crash (and must not
    # feed coresnap-archive a core of coresnap): RLIMIT_CORE 0 is ignored for piped patterns.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def main() -> int:
    not_dumpable()
    request = json.loads(sys.stdin.read())
    try:
        snap = build_snapshot(
            request["core"],
            request["exe"],
            resource=request["resource"],
            kv=request["kv"],
            engine=request["engine"],
            bounds=Bounds(**request["bounds"]),
            analyze=request.get("analyze", False),
        )
        with open(request["out"], "wb") as f:
            f.write(encode(snap))
    except (CoreFormatError, CoreFileUnreadable) as e:
        print(f"core unreadable: {e}", file=sys.stderr)
        return EXIT_CORE_UNREADABLE
    except CoresnapError as e:
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_ENGINE_FAILED
    except MemoryError:
        print("MemoryError", file=sys.stderr)
        return EXIT_ENGINE_FAILED
    except Exception:  # noqa: BLE001 - reported to the parent, which falls back
        traceback.print_exc(limit=4)
        return EXIT_ENGINE_FAILED
    return EXIT_OK


def run_command(args: list[str]) -> int:
    """Run ``coresnap snapshot ARGS`` in this process, as the CLI does (``--isolate`` is
    dropped: the caller isolated this process), and return its exit status."""
    from coresnap.snapshot.command import main as snapshot_main

    not_dumpable()
    try:
        return snapshot_main([a for a in args if a != "--isolate"])
    except MemoryError:
        print("MemoryError", file=sys.stderr)
    except Exception:  # noqa: BLE001 - reported to the parent, which falls back
        traceback.print_exc(limit=4)
    return EXIT_ENGINE_FAILED


if __name__ == "__main__":
    sys.exit(main())
