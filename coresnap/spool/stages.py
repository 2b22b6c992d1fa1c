"""The stages of a dump, as directories under ``dump.root``; every transition is a rename(2).

A dump is identified by its id (32 lowercase hex, also the snapshot's object id). Its files:

- ``staging/<id>.<kind>.<pid>``: being written by process ``pid`` (the archive tool or
  coresnapd); never read by anyone else; removed by :meth:`Spool.recover` once ``pid`` is gone.
- ``pending/<id>``: a whole core, waiting for its snapshot.
- ``sending/<id>``: a whole snapshot, waiting for the store.
- ``committed/<id>``: a stored snapshot; ``committed/<id>.core[.zst]``: a kept core.
- ``failed/<id>`` (core) or ``failed/<id>.snap`` (snapshot), with ``failed/<id>.reason``.
- ``assets/<id>``: the tar of /proc and system facts, kept while a core or snapshot exists.

Stdlib only: the archive tool imports this module.
"""

from __future__ import annotations

import os
import re
import time
from enum import Enum
from pathlib import Path

ID_PATTERN = re.compile(r"[0-9a-f]{32}")


class Stage(Enum):
    """The directories under dump.root, in pipeline order; the value is the directory name."""

    STAGING = "staging"
    PENDING = "pending"
    SENDING = "sending"
    COMMITTED = "committed"
    FAILED = "failed"
    ASSETS = "assets"


# Suffixes of files that are not the stage's main file.
CORE_KEPT = ".core"
CORE_KEPT_ZST = ".core.zst"
FAILED_SNAPSHOT = ".snap"
REASON = ".reason"
ORPHAN_GRACE = 60.0  # seconds


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Spool:
    """The stage directories of one dump root and the renames between them."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def dir(self, stage: Stage) -> Path:
        return self.root / stage.value

    def path(self, stage: Stage, dump_id: str, suffix: str = "") -> Path:
        return self.root / stage.value / f"{dump_id}{suffix}"

    def staging_path(self, dump_id: str, kind: str) -> Path:
        """A private temporary file of this process for ``dump_id`` (``kind``: core, snap, ...)."""
        return self.path(Stage.STAGING, dump_id, f".{kind}.{os.getpid()}")

    def create(self, mode: int = 0o750, uid: int = -1, gid: int = -1) -> None:
        """Make every stage directory (idempotent). Raises OSError."""
        if not self.root.is_dir():
            self.root.mkdir(parents=True, exist_ok=True)
            if uid >= 0 or gid >= 0:  # the daemon (dump.user) writes its lock and counters here
                os.chown(self.root, uid, gid)
        for stage in Stage:
            d = self.dir(stage)
            if not d.is_dir():
                d.mkdir(mode=mode, exist_ok=True)
                if uid >= 0 or gid >= 0:
                    os.chown(d, uid, gid)

    def ids(self, stage: Stage) -> list[str]:
        """Ids whose main file is in ``stage``, oldest first (by mtime)."""
        found = []
        try:
            entries = list(os.scandir(self.dir(stage)))
        except FileNotFoundError:
            return []
        for entry in entries:
            if ID_PATTERN.fullmatch(entry.name):
                try:
                    found.append((entry.stat().st_mtime, entry.name))
                except FileNotFoundError:
                    continue
        return [name for _, name in sorted(found)]

    def publish(self, temp: Path, stage: Stage, dump_id: str, suffix: str = "") -> Path:
        """Fsync ``temp`` and its new directory, then rename it into ``stage`` atomically."""
        fd = os.open(temp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        target = self.path(stage, dump_id, suffix)
        os.rename(temp, target)
        self._fsync_dir(target.parent)
        return target

    def advance(
        self, dump_id: str, src: Stage, dst: Stage, src_suffix: str = "", dst_suffix: str = ""
    ) -> Path:
        """Rename one file of ``dump_id`` from ``src`` to ``dst``. Raises OSError (ENOENT if gone)."""
        target = self.path(dst, dump_id, dst_suffix)
        os.rename(self.path(src, dump_id, src_suffix), target)
        self._fsync_dir(target.parent)
        return target

    def fail(self, dump_id: str, src: Stage, reason: str) -> Path:
        """Move the main file of ``dump_id`` in ``src`` to failed/, with a reason file first."""
        temp = self.staging_path(dump_id, "reason")
        temp.write_text(reason.rstrip("\n") + "\n")
        self.publish(temp, Stage.FAILED, dump_id, REASON)
        suffix = FAILED_SNAPSHOT if src is Stage.SENDING else ""
        return self.advance(dump_id, src, Stage.FAILED, dst_suffix=suffix)

    def retry(self, dump_id: str) -> Stage:
        """Return a failed dump to the stage it failed in. Raises FileNotFoundError."""
        if self.path(Stage.FAILED, dump_id).exists():
            dst, suffix = Stage.PENDING, ""
        elif self.path(Stage.FAILED, dump_id, FAILED_SNAPSHOT).exists():
            dst, suffix = Stage.SENDING, FAILED_SNAPSHOT
        else:
            raise FileNotFoundError(str(self.path(Stage.FAILED, dump_id)))
        self.advance(dump_id, Stage.FAILED, dst, src_suffix=suffix)
        self.path(Stage.FAILED, dump_id, REASON).unlink(missing_ok=True)
        return dst

    def has_any(self, dump_id: str) -> bool:
        """Whether any core or snapshot of ``dump_id`` exists in any stage."""
        candidates = [
            self.path(Stage.PENDING, dump_id),
            self.path(Stage.SENDING, dump_id),
            self.path(Stage.COMMITTED, dump_id),
            self.path(Stage.COMMITTED, dump_id, CORE_KEPT),
            self.path(Stage.COMMITTED, dump_id, CORE_KEPT_ZST),
            self.path(Stage.FAILED, dump_id),
            self.path(Stage.FAILED, dump_id, FAILED_SNAPSHOT),
        ]
        return any(p.exists() for p in candidates)

    def recover(self) -> list[str]:
        """Undo what a killed writer left: remove dead writers' staging files, stale reasons
        and orphan assets. Returns one line per action. The caller finishes dumps whose
        snapshot is in sending/ while their core is still in pending/ (see the daemon)."""
        actions = []
        live_ids = set()
        for entry in os.scandir(self.dir(Stage.STAGING)):
            dump_id, _, rest = entry.name.partition(".")
            pid = rest.rpartition(".")[2]
            if pid.isdigit() and _pid_alive(int(pid)) and int(pid) != os.getpid():
                live_ids.add(dump_id)
                continue
            os.unlink(entry.path)
            actions.append(f"removed staging/{entry.name} (writer gone)")
        for entry in os.scandir(self.dir(Stage.FAILED)):
            if entry.name.endswith(REASON):
                dump_id = entry.name[: -len(REASON)]
                if not (
                    self.path(Stage.FAILED, dump_id).exists()
                    or self.path(Stage.FAILED, dump_id, FAILED_SNAPSHOT).exists()
                ):
                    os.unlink(entry.path)
                    actions.append(f"removed failed/{entry.name} (no dump)")
        # An archive tool publishes assets/<id> just before pending/<id>: leave young ones.
        young = time.time() - ORPHAN_GRACE
        for dump_id in self.ids(Stage.ASSETS):
            asset = self.path(Stage.ASSETS, dump_id)
            if dump_id in live_ids or self.has_any(dump_id) or _mtime(asset) > young:
                continue
            asset.unlink(missing_ok=True)
            actions.append(f"removed assets/{dump_id} (no core or snapshot)")
        return actions

    def _fsync_dir(self, directory: Path) -> None:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
