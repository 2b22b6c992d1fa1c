"""Kernel dumps into coresnapd's spool: the companion step ``coresnap kernel-import``.

At boot ``/etc/rc.d/savecore`` copies the dump from the dump device into the crash directory
and crashinfo(8) writes ``core.txt.N`` (docs/freebsd.md). This step then moves each complete
dump into the spool the way ``coresnap-archive`` publishes a process core:

- ``assets/<id>``: a tar of ``metadata.json`` (``kind: "freebsd-kernel"``) and the dump's texts
  under ``kernel/`` (``info``, ``core.txt``, the textdump's ``ddb.txt`` ...), so the snapshot
  step needs nothing else;
- ``pending/<id>``: the dump itself — ``vmcore.N`` (renamed straight into ``pending/`` when it
  is on the same file system, else copied sparsely through ``staging/`` under ``dump.quota``),
  or ``textdump.tar.N`` when there is no vmcore. From there the daemon's retention policies (``retention.core``,
  ``retention.keep_per_*``, ``purge.*``) keep or purge it like any core.

The id is derived from ``info.N`` (header, dump time, parity): importing the same dump twice
(a kill between publishing and removing the sources) finds it already spooled and only
removes what is left in the crash directory.
"""

from __future__ import annotations

import fcntl
import grp
import hashlib
import os
import pwd
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from coresnap.capture import sparse

# The archive tool's dump.quota check (os.statvfs only: the same call on Linux and FreeBSD).
from coresnap.capture.archive import _quota_guard as archive_quota_guard
from coresnap.capture.log import Log
from coresnap.config import Config
from coresnap.errors import CaptureRejected, KernelDumpError
from coresnap.kernel import reader, savecore
from coresnap.kernel.model import KernelDump
from coresnap.spool import assets as spool_assets
from coresnap.spool import counters
from coresnap.spool.stages import Spool, Stage

KIND = "freebsd-kernel"
KERNEL_EXE = "/boot/kernel/kernel"
# The snapshot step of a kernel dump (daemon/snapshot.py picks it by ``kind``): the texts are in
# the assets, the vmcore only gives its path and size.
SNAPSHOT_COMMAND = "coresnap kernel-snapshot %a --vmcore %c -o %S --kv coresnap.object:%B"
SETTLE = 600.0  # seconds without change after which a dump without core.txt is taken as is
LOCK_FILE = "kernel-import.lock"
QUIET = 5.0  # seconds without change after which a complete dump is no longer being written


@dataclass
class Imported:
    number: int
    dump_id: str
    core: str  # the file that became pending/<id>
    moved: str  # "rename", "copy", or "already spooled"


def dump_id(info_text: str) -> str:
    """32 hex digits derived from ``info.N`` (stable for one dump, different for two)."""
    return hashlib.sha256(b"coresnap-kernel-dump\n" + info_text.encode()).hexdigest()[:32]


def ready(dump: savecore.DumpSet, now: float, settle: float = SETTLE, quiet: float = QUIET) -> bool:
    """Whether savecore and crashinfo are done with ``dump``: it has its report (``core.txt.N``)
    or is a textdump and nothing changed for ``quiet`` seconds, or nothing in it changed for
    ``settle`` seconds (crashinfo disabled or failed)."""
    if dump.core_txt or (dump.textdump and not dump.vmcore):
        return now - dump.newest_mtime() >= quiet
    return now - dump.newest_mtime() >= settle


def _owner(cfg: Config, log: Log) -> tuple[int, int]:
    try:
        return pwd.getpwnam(cfg["dump.user"]).pw_uid, grp.getgrnam(cfg["dump.group"]).gr_gid
    except KeyError:
        log.warn(f"dump.user {cfg['dump.user']!r}/dump.group {cfg['dump.group']!r} unknown: "
                 "importing as root")  # fmt: skip
        return 0, 0


class KernelImport:
    """Import the ready dumps of one crash directory into one spool."""

    def __init__(self, cfg: Config, root: str, log: Log) -> None:
        self.cfg, self.root, self.log = cfg, root, log
        self.spool = Spool(root)
        self.uid, self.gid = _owner(cfg, log)
        self.mode = cfg["dump.mode"]

    def run(
        self, crashdir: str | os.PathLike[str], settle: float = SETTLE, quiet: float = QUIET
    ) -> list[Imported]:
        """Import every ready dump of ``crashdir``; a dump that fails is logged, counted and
        left in place for the next run. Raises KernelDumpError if ``crashdir`` is unreadable."""
        self.spool.create(uid=self.uid, gid=self.gid)
        # One import at a time per spool (rc.d at boot and cron may overlap): a second one
        # waits, then finds the dumps already moved.
        with open(Path(self.root) / LOCK_FILE, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return self._run(crashdir, settle, quiet)

    def _run(self, crashdir: str | os.PathLike[str], settle: float, quiet: float) -> list[Imported]:
        done = []
        now = time.time()
        for dump in savecore.find_dumps(crashdir):
            if not ready(dump, now, settle, quiet):
                self.log.info(f"{dump.directory}/info.{dump.number}: not complete yet, later")
                continue
            try:
                done.append(self.import_dump(dump))
            except (KernelDumpError, CaptureRejected, OSError) as e:
                self.log.error(f"kernel dump {dump.number} in {dump.directory} not imported: {e}")
                counters.bump(self.root, {"dropped.kernel_import": 1})
        return done

    def import_dump(self, dump: savecore.DumpSet) -> Imported:
        """Spool one dump. Raises KernelDumpError, CaptureRejected, OSError."""
        texts = reader.texts_of(dump)
        oid = dump_id(texts["info"])
        core = dump.vmcore or dump.textdump or dump.info
        assert core is not None  # find_dumps only returns sets with an info.N
        if self.spool.has_any(oid):
            self._remove_sources(dump)
            return Imported(dump.number, oid, core.name, "already spooled")
        cap = self.cfg["dump.max_pending"]
        if cap and len(os.listdir(self.spool.dir(Stage.PENDING))) >= cap:
            raise CaptureRejected("max_pending", f"{cap} dumps already pending (dump.max_pending)")
        guard = archive_quota_guard(self.root, self.cfg["dump.quota"])
        guard(0)
        parsed = reader.read_dump(texts)
        members = {f"{reader.ASSET_PREFIX}{name}": t.encode() for name, t in texts.items()}
        same_fs = os.stat(core).st_dev == os.stat(self.spool.dir(Stage.PENDING)).st_dev
        if same_fs:
            # The dump is whole already: it is renamed straight into pending/ after its assets
            # (a kill in between leaves it in the crash directory for the next run).
            os.chown(core, self.uid, self.gid)
            os.chmod(core, self.mode)
            self._publish_assets(oid, members, self._metadata(oid, dump, parsed, core,
                                                              "rename", os.stat(core)))  # fmt: skip
            self.spool.publish(core, Stage.PENDING, oid)
            moved = "rename"
        else:
            temp = self.spool.staging_path(oid, "core")
            self._copy_core(core, temp, guard)
            try:
                meta = self._metadata(oid, dump, parsed, core, "copy", temp.stat())
                self._publish_assets(oid, members, meta)
                self.spool.publish(temp, Stage.PENDING, oid)
            finally:
                temp.unlink(missing_ok=True)
            moved = "copy"
        self._remove_sources(dump)
        counters.bump(self.root, {"archived": 1})
        self.log.info(f"kernel dump {dump.number} ({parsed.panic or 'no panic string'}) "
                      f"archived in {self.spool.path(Stage.PENDING, oid)}")  # fmt: skip
        return Imported(dump.number, oid, core.name, moved)

    def _copy_core(self, core: Path, temp: Path, guard: Callable[[int], None]) -> None:
        """Copy ``core`` sparsely to ``temp`` (another file system) under dump.quota; a cut
        vmcore is useless, so there is no size limit."""
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            with open(core, "rb", buffering=0) as src:
                sparse.stream(src, fd, 1 << 62, guard)
            os.fchown(fd, self.uid, self.gid)
            os.fchmod(fd, self.mode)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        finally:
            os.close(fd)

    def _metadata(
        self, oid: str, dump: savecore.DumpSet, parsed: KernelDump, core: Path, moved: str,
        st: os.stat_result,
    ) -> dict:  # fmt: skip
        return {
            "id": oid, "format": spool_assets.FORMAT, "version": spool_assets.VERSION, "kind": KIND,
            "exe": KERNEL_EXE, "exe_path": KERNEL_EXE, "comm": "kernel",
            "pid": parsed.curthread_pid or "", "signal": "",
            "time": parsed.crash_time if parsed.crash_time is not None else "",
            "hostname": parsed.hostname or "",
            "archived_at": time.time(), "archive_pid": os.getpid(),
            "kernel": {"crashdir": str(dump.directory), "number": dump.number,
                       "files": sorted(p.name for p in dump.files.values()),
                       "panic": parsed.panic, "version": parsed.version},
            "core": {"source": core.name, "size": st.st_size, "moved": moved,
                     "disk_bytes": st.st_blocks * 512, "truncated": False},
        }  # fmt: skip

    def _publish_assets(self, oid: str, members: dict[str, bytes], meta: dict) -> None:
        spool_assets.publish(
            self.spool, oid, members, meta, mode=self.mode, uid=self.uid, gid=self.gid
        )

    def _remove_sources(self, dump: savecore.DumpSet) -> None:
        for path in dump.files.values():
            path.unlink(missing_ok=True)
