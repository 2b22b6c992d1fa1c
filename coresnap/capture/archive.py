"""``coresnap-archive``: the kernel's core_pattern pipe handler, replayable without a kernel.

``main(argv, stdin)`` does what the kernel asks, in an order chosen for the worst moment
(systemd's coredump.c does the same): no core of itself (PR_SET_DUMPABLE 0), one log line
naming the crash before anything that can fail, then the assets (while /proc/<pid> is whole:
``kernel.core_pipe_limit`` > 0 keeps it until we let the pipe go), then the core streamed
sparsely into ``staging/``; then the pipe is let go (the kernel reaps the crashed process, its
service may restart) while the core is checked, owned, fsynced and renamed into ``pending/``.
A crash it does not archive is counted in counters.json and logged with the reason;
``pending/`` only ever gets whole files.

Stdlib only (the interpreter starts for every crash): imports nothing outside the stdlib.
"""

from __future__ import annotations

import ctypes
import grp
import os
import pwd
import signal
import sys
import time
from collections.abc import Callable

from coresnap import config as configuration
from coresnap.capture import assets, elfcheck, fields, minicore, pipe, policy, sparse
from coresnap.capture.log import Log
from coresnap.errors import CaptureRejected, ConfigError
from coresnap.spool import assets as spool_assets
from coresnap.spool import counters
from coresnap.spool.stages import Spool, Stage

USAGE = "usage: coresnap-archive [-c coresnap.conf] [-r dump.root] " + " ".join(
    "%" + f.specifier for f in fields.FIELDS
)
PR_SET_DUMPABLE = 4  # include/uapi/linux/prctl.h
# The fields the kernel fills with a decimal number (core(5)); %c is read by _limit.
NUMERIC = ("pid", "ns_pid", "tid", "ns_tid", "signal", "time", "uid", "gid", "dumpable")


def _not_dumpable() -> None:
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        except (OSError, AttributeError):
            pass


def _std_fds() -> None:
    """The kernel starts us with only stdin open: keep fds 1 and 2 from landing on our files."""
    for fd in (1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_WRONLY)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


def _options(argv: list[str]) -> tuple[str | None, str | None, list[str]]:
    conf = root = None
    while argv and argv[0] in ("-c", "-r"):
        if len(argv) < 2:
            raise ValueError(f"{argv[0]} needs a value")
        if argv[0] == "-c":
            conf = argv[1]
        else:
            root = argv[1]
        argv = argv[2:]
    return conf, root, argv


def _owner(cfg: configuration.Config, log: Log, dumpable: str) -> tuple[int, int, int]:
    """(uid, gid, mode) for archived files. A suid_dumpable dump (%d 2) may hold another
    user's secrets: it stays root's, mode 0600."""
    if dumpable not in ("", "1"):
        return 0, 0, 0o600
    try:
        uid = pwd.getpwnam(cfg["dump.user"]).pw_uid
        gid = grp.getgrnam(cfg["dump.group"]).gr_gid
    except KeyError:
        log.warn(f"dump.user {cfg['dump.user']!r}/dump.group {cfg['dump.group']!r} unknown: "
                 "archiving as root")  # fmt: skip
        return 0, 0, cfg["dump.mode"]
    return uid, gid, cfg["dump.mode"]


def _quota_guard(root: str, quota: float):  # noqa: ANN202 - a closure for sparse.stream
    def check(_written: int) -> None:
        st = os.statvfs(root)
        if st.f_blocks and st.f_bavail * 100.0 / st.f_blocks < quota:
            free = st.f_bavail * 100.0 / st.f_blocks
            raise CaptureRejected("quota", f"{free:.1f}% free on {root}, dump.quota is {quota}%")

    return check


def _limit(core_limit: str, max_size: int) -> tuple[int, str]:
    try:
        rlimit = int(core_limit)
    except ValueError:
        rlimit = fields.RLIM_INFINITY
    if rlimit < max_size:
        return rlimit, "%c (RLIMIT_CORE)"
    return max_size, "dump.max_size"


def _uuid4_hex() -> str:
    """uuid.uuid4().hex without importing uuid (3 ms at every crash): RFC 4122 version 4."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    return raw.hex()


def _number(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _not_numbers(crash: dict[str, str]) -> str | None:
    """What is wrong with the numeric fields of ``crash`` (one line), or None."""
    spec = {f.name: f.specifier for f in fields.FIELDS}
    bad = [f"%{spec[name]} ({name}) {crash[name]!r} is not a number"
           for name in NUMERIC if _number(crash[name]) is None]  # fmt: skip
    return "; ".join(bad) or None


def _signal_name(number: str) -> str:
    try:
        return signal.Signals(int(number)).name
    except ValueError:
        return f"signal {number}"


def main(argv: list[str] | None = None, stdin: sparse.Readable | None = None) -> int:
    """Archive the core on ``stdin`` described by ``argv`` (the core_pattern fields).

    Returns 0 when the core is in pending/, 1 when it was dropped (counted and logged), 2 on a
    usage or configuration error: with a field that should be a number and is not (a broken
    core_pattern), the core and what can be read without that field are still archived.
    Never raises for a bad core, a bad field or a full disk.
    """
    _not_dumpable()
    _std_fds()
    log = Log("coresnap-archive")
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        conf, root_override, values = _options(args)
        crash = fields.parse(values)
    except ValueError as e:
        log.error(f"{e}; {USAGE}")
        return 2
    exe = crash["exe_path"].replace("!", "/") or crash["comm"]
    log.info(f"crash of pid {crash['pid']} ({exe}) signal {_signal_name(crash['signal'])}")
    broken = _not_numbers(crash)
    if broken:
        log.error(f"kernel.core_pattern is wrong: {broken}; archiving without what needs it")
    try:
        cfg = configuration.load(conf)
    except ConfigError as e:
        log.error(f"cannot archive pid {crash['pid']}: {e}")
        return 2
    root = root_override or cfg["dump.root"]
    log.add_file(cfg["log.file"])
    src: sparse.Readable = stdin if stdin is not None else sys.stdin.buffer.raw  # type: ignore[union-attr]
    if stdin is None:
        pipe.widen(0, sparse.READ_SIZE)  # coresnap-archive's entry has widened it more already
    try:
        dump_id = Archive(cfg, root, crash, log).run(src, release_pipe if stdin is None else None)
    except CaptureRejected as e:
        log.error(f"pid {crash['pid']} ({exe}) not archived: {e.what}")
        _count(root, log, {"dropped." + e.counter: 1, f"dropped_by_exe.{crash['comm']}": 1})
        return 1
    except OSError as e:
        log.error(f"pid {crash['pid']} ({exe}) not archived: {e}")
        _count(root, log, {"dropped.error": 1, f"dropped_by_exe.{crash['comm']}": 1})
        return 1
    log.info(f"Crash dump archived in {Spool(root).path(Stage.PENDING, dump_id)}")
    _count(root, log, {"archived": 1})
    return 2 if broken else 0


def release_pipe() -> None:
    """Let the kernel go on: with ``core_pipe_limit`` > 0 the crashed process stays (and its
    restart waits) until its handler closes the pipe, so the handler closes it as soon as the
    core is read, not when it exits: the checks, the fsync and the publication that follow
    need neither the pipe nor /proc/<pid>. fd 0 becomes /dev/null (it stays a valid fd)."""
    null = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.dup2(null, 0)
    finally:
        os.close(null)


def _count(root: str, log: Log, increments: dict[str, int]) -> None:
    try:
        counters.bump(root, increments)
    except OSError as e:
        log.error(f"cannot update counters in {root}: {e}")


class Archive:
    """One capture: assets, core, checks, publication. Raises CaptureRejected or OSError."""

    def __init__(self, cfg: configuration.Config, root: str, crash: dict[str, str], log: Log):
        self.cfg, self.root, self.crash, self.log = cfg, root, crash, log
        self.spool = Spool(root)
        self.dump_id = _uuid4_hex()
        self.uid, self.gid, self.mode = _owner(cfg, log, crash["dumpable"])

    def run(self, src: sparse.Readable, release: Callable[[], None] | None = None) -> str:
        """Archive the core on ``src``; ``release()`` is called once it is read (the pipe)."""
        self.spool.create(uid=self.uid, gid=self.gid)
        limit, limited_by = _limit(self.crash["core_limit"], self.cfg["dump.max_size"])
        if limit <= 0:
            raise CaptureRejected(
                "core_limit", "RLIMIT_CORE is 0 (%c): the process asked for no core"
            )
        self._check_backlog()
        guard = _quota_guard(self.root, self.cfg["dump.quota"])
        guard(0)
        members, facts = self._collect()
        core = self.spool.staging_path(self.dump_id, "core")
        published = False
        try:
            try:
                result = self._write_core(core, src, limit, guard)
            finally:
                if release is not None:
                    release()
            facts["core"] = {"size": result.size, "written": result.written,
                             "disk_bytes": result.disk_bytes, "truncated": result.truncated,
                             "truncated_by": limited_by if result.truncated else None}  # fmt: skip
            facts["core"].update(keep=result.keep, stream_bytes=result.stream_bytes)
            if result.facts:
                facts["core"]["minicore"] = result.facts
            facts["core"].update(self._verify(core, result.size))
            self._publish_assets(members, facts)
            self.spool.publish(core, Stage.PENDING, self.dump_id)
            published = True
        finally:
            if not published:
                core.unlink(missing_ok=True)
                self.spool.path(Stage.ASSETS, self.dump_id).unlink(missing_ok=True)
        return self.dump_id

    def _check_backlog(self) -> None:
        cap = self.cfg["dump.max_pending"]
        if cap and len(os.listdir(self.spool.dir(Stage.PENDING))) >= cap:
            raise CaptureRejected("max_pending", f"{cap} cores already pending (dump.max_pending)")

    def _collect(self) -> tuple[dict[str, bytes], dict]:
        pid = _number(self.crash["pid"])
        members, facts = (
            assets.collect_process(pid, self.cfg["dump.environ"])
            if pid is not None
            else assets.no_process()
        )
        facts["privacy"] = self._scrub(members, facts)
        system, missing = assets.collect_system()
        members.update(system)
        facts["assets_missing"] += missing
        facts.update(self._pattern_facts())
        return members, facts

    def _scrub(self, members: dict[str, bytes], facts: dict) -> dict:
        """Apply the privacy policy to the process text of the assets. A policy that cannot be
        read keeps that text out of the tar: a secret must not leave for want of a rule."""
        try:
            rules = policy.load_policy(self.cfg)
        except ConfigError as e:
            self.log.error(f"pid {self.crash['pid']}: privacy policy unreadable ({e}): "
                           "proc/cmdline and proc/environ left out")  # fmt: skip
            for name in ("proc/cmdline", "proc/environ"):
                if members.pop(name, None) is not None:
                    facts["assets_missing"].append(name)
            return {"error": str(e), "scrubbed": []}
        return assets.scrub_process(members, rules, _number(self.crash["pid"]))

    def _pattern_facts(self) -> dict:
        c = self.crash
        return {
            "id": self.dump_id,
            "format": spool_assets.FORMAT,
            "version": spool_assets.VERSION,
            "core_pattern": {f"%{f.specifier}": c[f.name] for f in fields.FIELDS},
            **{f.name: c[f.name] for f in fields.FIELDS},
            "exe_path": c["exe_path"].replace("!", "/"),
            "signal_name": _signal_name(c["signal"]),
            "archived_at": time.time(),
            "archive_pid": os.getpid(),
        }

    def _write_core(self, path: os.PathLike[str], src, limit: int, guard) -> minicore.Result:  # noqa: ANN001
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            try:
                pid = _number(self.crash["pid"])
                result = minicore.write(src, fd, limit, guard, self.cfg, pid)
            except OSError as e:
                if e.errno == 28:  # ENOSPC: the file system filled under us
                    raise CaptureRejected("no_space", f"{self.root}: {e.strerror}") from None
                raise
            os.fchown(fd, self.uid, self.gid)
            os.fchmod(fd, self.mode)
        finally:
            os.close(fd)
        if result.size == 0:
            raise CaptureRejected("empty", "the kernel sent a zero-length core")
        return result

    def _verify(self, path: os.PathLike[str], size: int) -> dict:
        with open(path, "rb") as f:
            found = elfcheck.check(f, size)
        if not found.is_elf or not found.is_core:
            raise CaptureRejected("invalid", f"not an ELF core: {found.problem}")
        numbers = (_number(self.crash["ns_pid"]), _number(self.crash["ns_tid"]))
        wanted = {n for n in numbers if n is not None}
        if found.thread_pids and wanted and not wanted & set(found.thread_pids):
            raise CaptureRejected("invalid", f"core of pids {found.thread_pids[:4]}, "
                                  f"not of {sorted(wanted)}")  # fmt: skip
        if found.problem:
            self.log.warn(f"pid {self.crash['pid']}: {found.problem}")
        return {"verified": bool(found.thread_pids), "check_problem": found.problem or None,
                "e_machine": found.machine, "threads": len(found.thread_pids)}  # fmt: skip

    def _publish_assets(self, members: dict[str, bytes], facts: dict) -> None:
        spool_assets.publish(
            self.spool, self.dump_id, members, facts, mode=self.mode, uid=self.uid, gid=self.gid
        )
