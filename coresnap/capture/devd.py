"""FreeBSD capture: the devd(8) companion ``coresnap devd-core`` moves a finished core into the
spool, as ``coresnap-archive`` does with the core the Linux kernel pipes to it.

FreeBSD has no pipe core handler. The kernel writes the core to ``kern.corefile`` (``coresnap
install`` sets ``/var/coresnap/incoming/%N.%P.core``) with the credentials of the crashing
process, then — with ``kern.coredump_devctl=1`` — posts a devctl event (``sys/kern/kern_sig.c``,
``coredump()``: ``devctl_notify("kernel", "signal", "coredump", "comm=<exe path> core=<core
path>")``). packaging/freebsd/devd/coresnap.conf matches it and runs this command with
``$core`` only: the executable's path comes from the core's notes, never through a shell.

The incoming directory is writable by everyone (sticky, like /tmp), so the file named by the
event is treated as hostile: it must be a regular file directly in that directory, opened
without following links, with one link only (a hard link to another file must not be moved
into the spool by root), an ELF core with FreeBSD notes whose pid is the one in its name.
It is then read through the descriptor that was checked and handed to the archive tool's
:class:`~coresnap.capture.archive.Archive` (sparse copy under ``dump.quota`` and
``dump.max_size``, assets with ``metadata.json``, fsync, rename into ``pending/``).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

from coresnap import config as configuration
from coresnap.capture import archive, fields
from coresnap.capture.log import Log
from coresnap.corefile import open_core
from coresnap.errors import CaptureRejected, ConfigError, CoresnapError
from coresnap.spool import counters
from coresnap.spool.stages import Spool, Stage

INCOMING = "/var/coresnap/incoming"
# kern.corefile's %P (pid), see core(5). Not %N (the process name): any user chooses it, and
# devd hands the path to /bin/sh in the action line (packaging/freebsd/devd/coresnap.conf).
CORE_NAME = "%P.core"
_NAME = re.compile(r"^(\d+)\.core$")


def corefile_dir(sysctl: str = "/sbin/sysctl") -> str | None:
    """The directory of the running kernel's ``kern.corefile`` (None where there is none)."""
    if not shutil.which(sysctl):
        return None
    out = subprocess.run([sysctl, "-n", "kern.corefile"], capture_output=True, text=True)
    value = out.stdout.strip()
    return os.path.dirname(value) if out.returncode == 0 and "/" in value else None


class Companion(archive.Archive):
    """One devd event: the archive tool's capture, with the core read from the incoming file
    and the process facts read from the core's notes (the process is gone: no /proc)."""

    def __init__(self, cfg: configuration.Config, root: str, crash: dict[str, str], log: Log,
                 source: str) -> None:  # fmt: skip
        super().__init__(cfg, root, crash, log)
        self.source = source

    def _collect(self) -> tuple[dict[str, bytes], dict]:
        from coresnap.capture import assets

        members, missing = assets.collect_system()
        exe = self.crash["exe_path"].replace("!", "/")
        facts: dict[str, Any] = {
            "exe": exe, "cwd": None, "root": None, "exe_host_path": exe, "namespaces": {},
            "start_time": None, "assets_missing": ["proc/*: read from the core's notes", *missing],
            "capture": "devd", "core_source": self.source,
        }  # fmt: skip
        facts.update(self._pattern_facts())
        return members, facts


def _check_file(path: str, incoming: str) -> tuple[int, os.stat_result]:
    """Open the core named by the event; returns (fd, its stat). Raises CaptureRejected."""
    if not os.path.isabs(path) or os.path.realpath(os.path.dirname(path)) != os.path.realpath(
        incoming
    ):
        raise CaptureRejected("invalid", f"{path} is not in the incoming directory {incoming}")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise CaptureRejected("invalid", f"{path}: {e.strerror} (a symbolic link?)") from None
    st = os.fstat(fd)
    problem = None
    if not stat.S_ISREG(st.st_mode):
        problem = "not a regular file"
    elif st.st_nlink != 1:
        problem = f"{st.st_nlink} links: a hard link is not moved into the spool"
    if problem:
        os.close(fd)
        raise CaptureRejected("invalid", f"{path}: {problem}")
    return fd, st


def _same_file(path: str, st: os.stat_result) -> bool:
    try:
        now = os.lstat(path)
    except OSError:
        return False
    return (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino)


def crash_fields(path: str, st: os.stat_result, exe: str | None) -> dict[str, str]:
    """The core_pattern fields of the crash, from the core's notes (FreeBSD has no %-fields
    for a command). Raises CaptureRejected when the file is not a FreeBSD core of the pid in
    its name."""
    try:
        with open_core(path) as core:
            if core.os != "freebsd":
                raise CaptureRejected("invalid", f"{path}: a {core.os} core, not FreeBSD's")
            proc, crashed = core.process, core.crashed_thread
            signo = core.signal.signo if core.signal else (crashed.signal if crashed else 0)
            pid, tid = proc.pid or 0, crashed.tid if crashed else proc.pid or 0
            uid, gid, comm = proc.uid, proc.gid, proc.fname or ""
            exe = exe or proc.exe or comm
    except CoresnapError as e:
        if isinstance(e, CaptureRejected):
            raise
        raise CaptureRejected("invalid", f"not a readable core: {e}") from None
    named = _NAME.match(os.path.basename(path))
    if named and int(named.group(1)) != pid:
        raise CaptureRejected("invalid", f"{path}: the core of pid {pid}, not {named.group(1)}")
    # A set-id process's core (kern.sugid_coredump) is written as its effective user: like
    # Linux's suid_dumpable dumps, it stays root's (archive._owner, %d 2).
    dumpable = "1" if uid is None or st.st_uid == uid else "2"
    values = {"pid": pid, "ns_pid": pid, "tid": tid, "ns_tid": tid, "signal": signo,
              "time": int(st.st_mtime), "core_limit": fields.RLIM_INFINITY,
              "hostname": os.uname().nodename, "uid": "" if uid is None else uid,
              "gid": "" if gid is None else gid, "dumpable": dumpable, "comm": comm,
              "exe_path": exe.replace("/", "!")}  # fmt: skip
    return {k: str(v) for k, v in values.items()}


def main(
    path: str,
    exe: str | None = None,
    *,
    conf: str | None = None,
    root: str | None = None,
    incoming: str | None = None,
    log: Log | None = None,
) -> int:
    """Archive the core at ``path`` (devd's ``$core``) of ``exe`` (``$comm``): 0 archived,
    1 dropped (counted, logged, the incoming file removed), 2 configuration error."""
    log = log or Log("coresnap-devd")
    log.info(f"core {path} of {exe or '?'} (devd coredump event)")
    try:
        cfg = configuration.load(conf)
    except ConfigError as e:
        log.error(f"cannot archive {path}: {e}")
        return 2
    root = root or cfg["dump.root"]
    log.add_file(cfg["log.file"])
    incoming = incoming or corefile_dir() or INCOMING
    crash = {"comm": os.path.basename(exe or path), "dumpable": "1"}
    try:  # the spool first, owned as the archive tool makes it: drops are counted there
        first = Companion(cfg, root, crash, log, path)
        first.spool.create(uid=first.uid, gid=first.gid)
    except OSError as e:
        log.error(f"cannot archive {path}: {root}: {e}")
        return 1
    try:
        fd, st = _check_file(path, incoming)
    except CaptureRejected as e:  # not ours to remove: it may not even be a core
        log.error(f"{path} not archived: {e.what}")
        _count(root, log, {"dropped." + e.counter: 1})
        return 1
    try:
        crash = crash_fields(path, st, exe)
        if not _same_file(path, st):
            raise CaptureRejected("invalid", f"{path} was replaced while being read")
        with os.fdopen(fd, "rb", buffering=0) as src:
            fd = -1
            dump_id = Companion(cfg, root, crash, log, path).run(src)
    except (CaptureRejected, OSError) as e:
        counter = e.counter if isinstance(e, CaptureRejected) else "error"
        log.error(f"{path} ({crash.get('comm')}) not archived: {e}")
        _count(root, log, {f"dropped.{counter}": 1, f"dropped_by_exe.{crash.get('comm')}": 1})
        _remove(path, st)
        return 1
    finally:
        if fd >= 0:
            os.close(fd)
    _remove(path, st)
    log.info(f"Crash dump archived in {Spool(root).path(Stage.PENDING, dump_id)}")
    _count(root, log, {"archived": 1})
    return 0


def sweep(
    incoming: str | None = None,
    *,
    conf: str | None = None,
    root: str | None = None,
    quiet: float = 60.0,
    log: Log | None = None,
) -> int:
    """Archive the cores left in the incoming directory (devd was not running, or a companion
    was killed): every ``<pid>.core`` unchanged for ``quiet`` seconds (the kernel may still be
    writing a newer one). Returns how many were not archived."""
    log = log or Log("coresnap-devd")
    incoming = incoming or corefile_dir() or INCOMING
    failed = 0
    try:
        entries = sorted(os.scandir(incoming), key=lambda e: e.name)
    except OSError as e:
        log.error(f"cannot sweep {incoming}: {e.strerror}")
        return 1
    for entry in entries:
        try:
            old = time.time() - entry.stat(follow_symlinks=False).st_mtime >= quiet
        except OSError:
            continue
        if _NAME.match(entry.name) and old:
            status = main(entry.path, conf=conf, root=root, incoming=incoming, log=log)
            failed += status != 0
    return failed


def _count(root: str, log: Log, increments: dict[str, int]) -> None:
    try:
        counters.bump(root, increments)
    except OSError as e:
        log.error(f"cannot update counters in {root}: {e}")


def _remove(path: str, st: os.stat_result) -> None:
    """Unlink the incoming core if the name still refers to the file that was checked."""
    if _same_file(path, st):
        Path(path).unlink(missing_ok=True)
