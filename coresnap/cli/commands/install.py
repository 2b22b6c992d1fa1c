"""``coresnap install``: pipe every core on this host to coresnap-archive."""

from __future__ import annotations

import argparse
from pathlib import Path

from coresnap.capture import install
from coresnap.cli import hostopts
from coresnap.cli.commands import Command


def configure(p: argparse.ArgumentParser) -> None:
    hostopts.add(p)
    p.add_argument("--archive", help="path of coresnap-archive (default: beside python, PATH)")
    p.add_argument("--pipe-limit", type=int, default=install.PIPE_LIMIT,
                   help="kernel.core_pipe_limit (default %(default)s)")  # fmt: skip
    p.add_argument("--sysctl-file", type=Path, default=install.SYSCTL_FILE,
                   help="sysctl.d drop-in to write (default %(default)s)")  # fmt: skip
    p.add_argument("--no-sysctl-file", action="store_true", help="do not write the drop-in")
    p.add_argument("--incoming", help="FreeBSD: directory of kern.corefile "
                   "(default /var/coresnap/incoming)")  # fmt: skip
    p.add_argument("--sugid-coredump", action="store_true",
                   help="FreeBSD: kern.sugid_coredump=1 (cores of set-id programs)")  # fmt: skip
    p.add_argument("--socket", action="store_true",
                   help="Linux 6.16+: cores go to coresnapd's coredump socket (capture.socket) "
                   "instead of a pipe (older kernels: the pipe, and a note)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    cfg, root = hostopts.load(args)
    if install.host_os() == "freebsd":
        from coresnap.capture import freebsd_install

        conf = None if args.no_sysctl_file else freebsd_install.SYSCTL_CONF
        lines = freebsd_install.install(root, args.incoming or freebsd_install.INCOMING,
                                        args.sugid_coredump, sysctl_conf=conf)  # fmt: skip
        print("\n".join(lines))
        return 0
    if args.socket and not cfg["capture.socket"]:
        raise install.InstallError(f"--socket: set capture.socket in {cfg.source} (where "
                                   "coresnapd listens, e.g. /run/coresnap/coredump.socket)")  # fmt: skip
    report = install.install(
        root,
        archive=args.archive,
        config=args.config,
        pipe_limit=args.pipe_limit,
        sysctl_file=None if args.no_sysctl_file else args.sysctl_file,
        root_option=bool(args.dump_root) or not args.config,
        socket=cfg["capture.socket"] if args.socket else None,
    )
    for line in report.lines:
        print(line)
    return 0


COMMAND = Command("install", "Install coresnap-archive as kernel.core_pattern.", configure, run)
