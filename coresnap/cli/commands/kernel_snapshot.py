"""``coresnap kernel-snapshot SOURCE -o FILE``: a FreeBSD kernel dump's texts → a snapshot."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from coresnap.cli.commands import Command


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="the asset tar of a spooled kernel dump, or a crash "
                   "directory (/var/crash) with -n")  # fmt: skip
    p.add_argument("-n", "--number", type=int, help="dump number N in the crash directory "
                   "(info.N, core.txt.N, textdump.tar.N; default: the newest)")  # fmt: skip
    p.add_argument("--vmcore", help="the dump file, recorded as analysis.core_path")
    p.add_argument("-o", "--output", metavar="FILE", help="write the compressed snapshot here")
    p.add_argument("--json", action="store_true", help="write plain JSON to stdout")
    p.add_argument(
        "--kv",
        metavar="K:V,K:V",
        action="append",
        help="attributes to add (coresnap.object:<id>); repeatable, every one counts",
    )


def run(args: argparse.Namespace) -> int:
    from coresnap.errors import KernelDumpError
    from coresnap.kernel import reader, savecore
    from coresnap.kernel.snapshot import build_kernel_snapshot
    from coresnap.snapshot.attributes import parse_kv
    from coresnap.snapshot.format import to_json, validate, write

    if not args.output and not args.json:
        print("coresnap kernel-snapshot: give -o FILE or --json", file=sys.stderr)
        return 2
    started = time.monotonic()
    source = Path(args.source)
    vmcore = args.vmcore
    if source.is_dir():
        dumps = [d for d in savecore.find_dumps(source)
                 if args.number is None or d.number == args.number]  # fmt: skip
        if not dumps:
            raise KernelDumpError(str(source), f"no info.{args.number or 'N'} here")
        texts = reader.texts_of(dumps[-1])
        vmcore = vmcore or (str(dumps[-1].vmcore) if dumps[-1].vmcore else None)
    else:
        texts = reader.texts_from_assets(source)
    snap = build_kernel_snapshot(reader.read_dump(texts), kv=parse_kv(",".join(args.kv or [])), vmcore=vmcore,
                                 started=started)  # fmt: skip
    validate(snap)
    if args.output:
        size = write(snap, args.output)
        print(f"{args.output}: {size} bytes, kernel panic {snap['kernel']['panic']!r}, "
              f"engine {snap['analysis']['engine']}", file=sys.stderr)  # fmt: skip
    if args.json:
        sys.stdout.write(to_json(snap, indent=1) + "\n")
    return 0


COMMAND = Command(
    "kernel-snapshot", "Make a snapshot of a FreeBSD kernel dump (savecore/crashinfo output).",
    configure, run,
)  # fmt: skip
