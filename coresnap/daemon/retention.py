"""What is kept after each step: the core after its snapshot, and the committed history.

After the snapshot is in sending/, :meth:`Retention.core_done` handles the core in pending/:
purge it, keep it (``committed/<id>.core``) or keep it zstd-compressed (``.core.zst``), and
keep the first ``retention.keep_per_exe`` / ``keep_per_fingerprint`` cores whatever the policy.
Every action is a rename or an unlink of a whole file, so re-running it after a kill is safe.
:meth:`Retention.purge` removes committed and failed dumps by age (``purge.age``) and,
oldest first, down to ``purge.total`` bytes. Assets go when no core or snapshot is left.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from pathlib import Path

from coresnap.config import Config
from coresnap.daemon import dump as dumps
from coresnap.daemon.snapshotfile import fingerprint
from coresnap.spool import kept
from coresnap.spool.stages import (
    CORE_KEPT,
    CORE_KEPT_ZST,
    FAILED_SNAPSHOT,
    REASON,
    Spool,
    Stage,
)

_HISTORY_SUFFIXES = (
    (Stage.COMMITTED, ""),
    (Stage.COMMITTED, CORE_KEPT),
    (Stage.COMMITTED, CORE_KEPT_ZST),
    (Stage.FAILED, ""),
    (Stage.FAILED, FAILED_SNAPSHOT),
    (Stage.FAILED, REASON),
)


class Retention:
    def __init__(self, spool: Spool, cfg: Config) -> None:
        self.spool = spool
        self.cfg = cfg
        self._exe: dict[str, str] = {}  # kept core id -> exe name (cache)
        self._fingerprint: dict[str, str | None] = {}
        self._keep_lock = threading.Lock()

    def core_done(self, dump: dumps.Dump, snapshot_fp: str | None) -> str:
        """Dispose of pending/<id> once its snapshot exists; returns what was done."""
        core = self.spool.path(Stage.PENDING, dump.id)
        if not core.exists():
            return "none"
        policy = self.cfg["retention.core"]
        # Workers finish dumps in parallel: counting the kept cores and keeping one more is one
        # step, or two workers both see room for "the first N" and keep N + 1.
        with self._keep_lock:
            if policy == "purge" and self._keep_first(dump, snapshot_fp):
                policy = "keep"
            if policy == "keep":
                self.spool.advance(dump.id, Stage.PENDING, Stage.COMMITTED, dst_suffix=CORE_KEPT)
        if policy == "compress":
            self._compress(dump.id, core)
        elif policy != "keep":
            core.unlink(missing_ok=True)
        if policy != "purge":
            self._exe[dump.id] = dump.exe_name
            self._fingerprint[dump.id] = snapshot_fp
        return policy

    def _keep_first(self, dump: dumps.Dump, fp: str | None) -> bool:
        per_exe = self.cfg["retention.keep_per_exe"]
        per_fp = self.cfg["retention.keep_per_fingerprint"]
        if not per_exe and not per_fp:
            return False
        kept = self.kept_cores()
        if per_exe and Counter(self._exe_of(i) for i in kept)[dump.exe_name] < per_exe:
            return True
        return bool(per_fp and fp and Counter(self._fp_of(i) for i in kept)[fp] < per_fp)

    def kept_cores(self) -> list[str]:
        names = os.listdir(self.spool.dir(Stage.COMMITTED))
        return sorted({n.split(".")[0] for n in names if n.endswith((CORE_KEPT, CORE_KEPT_ZST))})

    def _exe_of(self, dump_id: str) -> str:
        if dump_id not in self._exe:
            self._exe[dump_id] = dumps.load(self.spool, dump_id).exe_name
        return self._exe[dump_id]

    def _fp_of(self, dump_id: str) -> str | None:
        if dump_id not in self._fingerprint:
            for stage in (Stage.COMMITTED, Stage.SENDING):
                path = self.spool.path(stage, dump_id)
                if path.exists():
                    self._fingerprint[dump_id] = fingerprint(path)
                    break
        return self._fingerprint.get(dump_id)

    def _compress(self, dump_id: str, core: Path) -> None:
        temp = self.spool.staging_path(dump_id, "zst")
        with open(temp, "wb") as dst:
            kept.compress(core, dst)
        os.chmod(temp, core.stat().st_mode & 0o777)
        self.spool.publish(temp, Stage.COMMITTED, dump_id, CORE_KEPT_ZST)
        core.unlink()

    def drop_assets_if_unused(self, dump_id: str) -> None:
        if not self.spool.has_any(dump_id):
            self.spool.path(Stage.ASSETS, dump_id).unlink(missing_ok=True)

    def purge(self, now: float | None = None) -> list[str]:
        """Apply purge.age and purge.total to committed/ and failed/; returns the ids removed."""
        now = time.time() if now is None else now
        history = self._history()
        removed = [i for i, (mtime, _) in history.items() if now - mtime > self.cfg["purge.age"]]
        cap = self.cfg["purge.total"]
        if cap:
            left = sorted((v[0], i) for i, v in history.items() if i not in removed)
            total = sum(history[i][1] for _, i in left)
            for _, dump_id in left:
                if total <= cap:
                    break
                total -= history[dump_id][1]
                removed.append(dump_id)
        for dump_id in removed:
            self._remove(dump_id)
        return removed

    def _history(self) -> dict[str, tuple[float, int]]:
        """id -> (newest mtime, bytes) of dumps that are only history (nothing in progress)."""
        found: dict[str, tuple[float, int]] = {}
        for stage in (Stage.COMMITTED, Stage.FAILED):
            for entry in os.scandir(self.spool.dir(stage)):
                dump_id = entry.name.split(".")[0]
                try:
                    st = entry.stat()
                except FileNotFoundError:
                    continue
                mtime, size = found.get(dump_id, (0.0, 0))
                found[dump_id] = (max(mtime, st.st_mtime), size + st.st_blocks * 512)
        busy = {i for s in (Stage.PENDING, Stage.SENDING) for i in self.spool.ids(s)}
        return {i: v for i, v in found.items() if i not in busy}

    def _remove(self, dump_id: str) -> None:
        for stage, suffix in _HISTORY_SUFFIXES:
            self.spool.path(stage, dump_id, suffix).unlink(missing_ok=True)
        self.spool.path(Stage.ASSETS, dump_id).unlink(missing_ok=True)
        self._exe.pop(dump_id, None)
        self._fingerprint.pop(dump_id, None)
