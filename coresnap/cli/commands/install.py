"""``coresnap install [--system [--store]]``: pipe every core on this host to coresnap-archive;
``--system`` also creates the coresnap user, installs and enables the units and the default
configuration, with the paths of this installation (coresnap/deploy)."""

from __future__ import annotations

import argparse
from pathlib import Path

from coresnap.capture import install
from coresnap.cli import hostopts
from coresnap.cli.commands import Command


def configure(p: argparse.ArgumentParser) -> None:
    hostopts.add(p)
    p.add_argument("--system", action="store_true",
                   help="also the coresnap user, coresnapd.service (enabled, started under "
                   "systemd), /etc/coresnap/coresnap.conf; undone by uninstall --system")  # fmt: skip
    p.add_argument("--store", action="store_true",
                   help="with --system: also the coronerd user, coronerd.service and "
                   "/etc/coresnap/coronerd.toml (this host runs the object store)")  # fmt: skip
    p.add_argument("--destdir", type=Path, default=Path("/"), metavar="DIR",
                   help="with --system: write the files under DIR (a staging tree)")  # fmt: skip
    p.add_argument("--no-start", action="store_true", help="with --system: do not start units")
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
    if args.system:
        return _system(args)
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


def _system(args: argparse.Namespace) -> int:
    from coresnap.deploy import layout, system

    if install.host_os() != "linux":
        raise install.InstallError("--system knows Linux with systemd; on FreeBSD see "
                                   "docs/freebsd.md (rc.d scripts)")  # fmt: skip
    where = layout.Layout()
    if args.dump_root:
        where = layout.Layout(dump_root=Path(args.dump_root))
    for line in system.install_system(where, store=args.store, destdir=args.destdir,
                                      start=not args.no_start):  # fmt: skip
        print(line)
    return 0


COMMAND = Command("install", "Install coresnap-archive as kernel.core_pattern.", configure, run)
