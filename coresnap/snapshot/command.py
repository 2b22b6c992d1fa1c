"""``coresnap snapshot CORE [EXE] -o FILE``: turn a core into a snapshot (or JSON on stdout).

The command's arguments and run live here, below the CLI: ``coresnap snapshot``
(coresnap/cli/commands/snapshot.py) and coresnapd's warm worker (:func:`main`, in a forked
child) run the same code.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Sequence

from coresnap.errors import CoresnapError

HELP = "Make a snapshot of a core file."


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("core", help="the core file")
    p.add_argument("exe", nargs="?", help="the executable (default: the path the core names)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the compressed snapshot here")
    p.add_argument("--json", action="store_true", help="write plain JSON to stdout")
    p.add_argument(
        "--resource", metavar="DIR|TAR", help="assets captured at crash time (system facts)"
    )
    p.add_argument(
        "--kv",
        metavar="K:V,K:V",
        action="append",
        help="attributes to add (coresnap.object:<id>); repeatable, every one counts",
    )
    p.add_argument("--engine", choices=("auto", "drgn", "corefile"), default="auto")
    p.add_argument("--isolate", action="store_true", help="run in a child with resource limits")
    p.add_argument(
        "--no-analysis",
        action="store_true",
        help="leave classification, annotations, fingerprint and quality empty",
    )
    p.add_argument("--timeout", type=float, default=120.0, help="wall-clock limit (--isolate)")
    p.add_argument("--cpu", type=int, default=120, help="CPU seconds limit (--isolate)")
    p.add_argument("--memory", type=int, default=2048, help="address-space MiB limit (--isolate)")
    # coresnapd's warm worker: why an isolated child failed, recorded by the core-reader engine.
    p.add_argument("--fallback-reason", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    # Imported here: every coresnap command pays for the imports at module level. drgn starts
    # reading debug info (on a thread) before the rest is imported, so that the two overlap.
    from coresnap.snapshot.attributes import parse_kv
    from coresnap.snapshot.engines import start_drgn

    if not args.output and not args.json:
        print("coresnap snapshot: give -o FILE or --json", file=sys.stderr)
        return 2
    kv = parse_kv(",".join(args.kv or []))
    started = None if args.isolate else start_drgn(args.core, args.exe, args.engine)
    from coresnap.snapshot.bounds import DEFAULT_BOUNDS
    from coresnap.snapshot.build import build_snapshot
    from coresnap.snapshot.format import to_json, validate, write

    if args.isolate:
        from coresnap.snapshot.isolate import Limits, run_snapshot  # subprocess, tempfile

        limits = Limits(cpu_seconds=args.cpu, memory_mb=args.memory, wall_seconds=args.timeout)
        snap = run_snapshot(
            args.core,
            args.exe,
            limits,
            resource=args.resource,
            kv=kv,
            engine=args.engine,
            analyze=not args.no_analysis,
        )
    else:
        snap = build_snapshot(
            args.core,
            args.exe,
            resource=args.resource,
            kv=kv,
            engine=args.engine,
            bounds=DEFAULT_BOUNDS,
            analyze=not args.no_analysis,
            started=started,
            fallback_reason=args.fallback_reason,
        )
        validate(snap)  # run_snapshot checked its own
    if args.output:
        size = write(snap, args.output)
        analysis = snap["analysis"]
        note = f" (fallback: {analysis['fallback_reason']})" if analysis["fallback_reason"] else ""
        print(
            f"{args.output}: {size} bytes, {len(snap['threads'])} threads, "
            f"engine {analysis['engine']}{note}",
            file=sys.stderr,
        )
    if args.json:
        sys.stdout.write(to_json(snap, indent=1) + "\n")
    return 0


@functools.cache
def parser() -> argparse.ArgumentParser:
    """The command's argument parser, made once (~6 ms; coresnapd's warm worker makes it
    before it forks, so that no dump pays for it)."""
    p = argparse.ArgumentParser(prog="coresnap snapshot", description=HELP)
    configure(p)
    return p


def main(args: Sequence[str]) -> int:
    """``coresnap snapshot ARGS`` as the CLI runs it: 1 and the message for a CoresnapError."""
    parsed = parser().parse_args(list(args))
    try:
        return run(parsed)
    except CoresnapError as e:
        print(f"coresnap snapshot: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
