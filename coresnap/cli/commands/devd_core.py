"""``coresnap devd-core CORE [EXE]``: devd's coredump companion (FreeBSD), see capture/devd.py."""

from __future__ import annotations

import argparse
import sys

from coresnap.cli import hostopts
from coresnap.cli.commands import Command


def configure(p: argparse.ArgumentParser) -> None:
    hostopts.add(p)
    p.add_argument("core", nargs="?", help="the core the kernel wrote (devd's $core)")
    p.add_argument("exe", nargs="?", help="the executable's path (devd's $comm)")
    p.add_argument("--incoming", help="the directory of kern.corefile (default: read from "
                   "the kernel, else /var/coresnap/incoming)")  # fmt: skip
    p.add_argument("--sweep", action="store_true", help="archive every core left in the "
                   "incoming directory (unchanged for --quiet seconds) instead of one")  # fmt: skip
    p.add_argument("--quiet", type=float, default=60.0, help="with --sweep (default %(default)s)")


def run(args: argparse.Namespace) -> int:
    from coresnap.capture import devd

    if args.sweep:
        failed = devd.sweep(args.incoming, conf=args.config, root=args.dump_root,
                            quiet=args.quiet)  # fmt: skip
        return 1 if failed else 0
    if not args.core:
        print("coresnap devd-core: give CORE (devd's $core) or --sweep", file=sys.stderr)
        return 2
    return devd.main(args.core, args.exe, conf=args.config, root=args.dump_root,
                     incoming=args.incoming)  # fmt: skip


COMMAND = Command(
    "devd-core", "Move a core the FreeBSD kernel wrote (devd coredump event) into the spool.",
    configure, run,
)  # fmt: skip
