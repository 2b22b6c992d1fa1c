"""``coresnap kernel-import [CRASHDIR]``: spool savecore's kernel dumps for coresnapd."""

from __future__ import annotations

import argparse

from coresnap.cli import hostopts
from coresnap.cli.commands import Command


def configure(p: argparse.ArgumentParser) -> None:
    hostopts.add(p)
    p.add_argument("crashdir", nargs="?", default="/var/crash",
                   help="savecore's directory (rc.conf dumpdir; default %(default)s)")  # fmt: skip
    p.add_argument("--settle", type=float, default=600.0,
                   help="seconds a vmcore without core.txt.N must stay unchanged before it is "
                   "taken without crashinfo's report (default %(default)s)")  # fmt: skip
    p.add_argument("--quiet", type=float, default=5.0,
                   help="seconds a complete dump must stay unchanged (default %(default)s)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from coresnap.capture.log import Log
    from coresnap.kernel.capture import KernelImport

    cfg, root = hostopts.load(args)
    log = Log("coresnap-kernel-import")
    log.add_file(cfg["log.file"])
    for done in KernelImport(cfg, root, log).run(args.crashdir, args.settle, args.quiet):
        print(f"dump {done.number}: {done.core} -> {done.dump_id} ({done.moved})")
    return 0


COMMAND = Command(
    "kernel-import", "Move FreeBSD kernel dumps (savecore, crashinfo) into the spool.",
    configure, run,
)  # fmt: skip
