"""``coresnap devd-core CORE [EXE]``: devd's coredump companion (FreeBSD), see capture/devd.py."""

from __future__ import annotations

import argparse

from coresnap.cli import hostopts
from coresnap.cli.commands import Command


def configure(p: argparse.ArgumentParser) -> None:
    hostopts.add(p)
    p.add_argument("core", help="the core the kernel wrote (devd's $core)")
    p.add_argument("exe", nargs="?", help="the executable's path (devd's $comm)")
    p.add_argument("--incoming", help="the directory of kern.corefile (default: read from "
                   "the kernel, else /var/coresnap/incoming)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from coresnap.capture import devd

    return devd.main(args.core, args.exe, conf=args.config, root=args.dump_root,
                     incoming=args.incoming)  # fmt: skip


COMMAND = Command(
    "devd-core", "Move a core the FreeBSD kernel wrote (devd coredump event) into the spool.",
    configure, run,
)  # fmt: skip
