"""What coresnapd knows of one dump: its id, its files and the archive tool's metadata."""

from __future__ import annotations

import os
import tarfile
from dataclasses import dataclass, field
from typing import Any

from coresnap.config import Config
from coresnap.spool.assets import read_metadata
from coresnap.spool.stages import Spool, Stage


@dataclass
class Dump:
    id: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def exe(self) -> str:
        """The executable's path (as the process saw it), else its comm."""
        return str(self.meta.get("exe") or self.meta.get("exe_path") or self.meta.get("comm") or "")

    @property
    def exe_name(self) -> str:
        return os.path.basename(self.exe) or "unknown"

    @property
    def crash_time(self) -> float | None:
        try:
            return float(self.meta["time"])
        except (KeyError, TypeError, ValueError):
            return None


def load(spool: Spool, dump_id: str) -> Dump:
    """The dump ``dump_id`` with the metadata of its assets (empty if they are unreadable)."""
    try:
        meta = read_metadata(spool.path(Stage.ASSETS, dump_id))
    except (OSError, tarfile.TarError, KeyError, ValueError):
        meta = {}
    return Dump(dump_id, meta)


def values(spool: Spool, dump: Dump, cfg: Config, snapshot: str, project: str) -> dict[str, str]:
    """The % field values of ``dump`` for a step command (see commands.FIELDS)."""
    meta = dump.meta
    host_exe = meta.get("exe_host_path") or dump.exe
    return {
        "core": str(spool.path(Stage.PENDING, dump.id)),
        "snapshot": snapshot,
        "assets": str(spool.path(Stage.ASSETS, dump.id)),
        "object": dump.id,
        "exe_name": dump.exe_name,
        "exe": str(host_exe),
        "pid": str(meta.get("pid", "")),
        "signal": str(meta.get("signal", "")),
        "time": str(meta.get("time", "")),
        "hostname": str(meta.get("hostname", "")),
        "project": project,
        "token": cfg["defaults.token"],
        "coroner_config": cfg["coroner.config"],
        "root": str(spool.root),
    }
