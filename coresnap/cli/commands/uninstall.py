"""``coresnap uninstall``: put back the core_pattern that was there before ``install``."""

from __future__ import annotations

import argparse
from pathlib import Path

from coresnap.capture import install
from coresnap.cli import hostopts
from coresnap.cli.commands import Command


def configure(p: argparse.ArgumentParser) -> None:
    hostopts.add(p)
    p.add_argument("--sysctl-file", type=Path, default=install.SYSCTL_FILE,
                   help="sysctl.d drop-in to remove (default %(default)s; the one install "
                   "wrote is removed wherever it is)")  # fmt: skip
    p.add_argument("--force", action="store_true", help="restore even if the pattern changed")
    p.add_argument("--system", action="store_true",
                   help="remove everything install --system added (its manifest says what)")  # fmt: skip
    p.add_argument("--purge", action="store_true",
                   help="with --system: remove the dump root even if it holds dumps")  # fmt: skip
    p.add_argument("--destdir", type=Path, default=Path("/"), metavar="DIR",
                   help="with --system: the staging tree install --system wrote")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    if args.system:
        from coresnap.deploy import system

        print("\n".join(system.uninstall_system(args.destdir, purge=args.purge)))
        return 0
    _cfg, root = hostopts.load(args)
    if install.host_os() == "freebsd":
        from coresnap.capture import freebsd_install

        print("\n".join(freebsd_install.uninstall(root, force=args.force)))
        return 0
    for line in install.uninstall(root, args.sysctl_file, force=args.force).lines:
        print(line)
    return 0


COMMAND = Command("uninstall", "Restore the core_pattern saved by coresnap install.",
                  configure, run)  # fmt: skip
