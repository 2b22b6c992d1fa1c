"""drgn reads debug info on a thread (started early by ``coresnap snapshot``) while the rest of
the snapshot code is imported: the snapshot is the same, the thread always finishes, and errors
on either side reach the caller (which falls back to the corefile engine)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from coresnap.errors import ConfigError, SnapshotEngineError
from coresnap.snapshot.build import build_snapshot
from coresnap.snapshot.engines import start_drgn
from coresnap.snapshot.engines.drgn_engine import Background, DebugInfoLoad
from tests.snapshot.snapshot_support import Crashed


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def strip(snap: dict[str, Any]) -> dict[str, Any]:
        out = dict(snap, uuid="")
        out["analysis"] = dict(snap["analysis"], duration_ms=0)
        return out

    return strip(a) == strip(b)


def test_a_snapshot_started_early_is_the_same(crashed: dict[str, Crashed]) -> None:
    for name in ("c_O0", "cxx_O2", "threads64"):
        crash = crashed[name].crash
        core, exe = str(crash.core), str(crash.exe)
        started = start_drgn(core, exe)
        assert isinstance(started, DebugInfoLoad)
        early = build_snapshot(core, exe, started=started, analyze=True)
        late = build_snapshot(core, exe, analyze=True)
        assert early["analysis"]["engine"] == "drgn"
        assert _same(early, late), name


def test_no_thread_is_left_behind_when_the_snapshot_fails_early(
    crashed: dict[str, Crashed],
) -> None:
    crash = crashed["c_O0"].crash
    before = threading.active_count()
    started = start_drgn(str(crash.core), str(crash.exe))
    with pytest.raises(ConfigError):
        build_snapshot(crash.core, crash.exe, kv={"coresnap.object": "nope"}, started=started)
    assert threading.active_count() == before


def test_a_file_drgn_cannot_open_is_an_engine_error_and_a_fallback(tmp_path: Path) -> None:
    not_a_core = tmp_path / "core"
    not_a_core.write_bytes(b"\x7fELF" + bytes(60))
    load = DebugInfoLoad(str(not_a_core), None)
    load.join()
    with pytest.raises(SnapshotEngineError, match="cannot open core"):
        load.program()
    assert start_drgn(str(not_a_core), None, "corefile") is None


def test_an_error_on_the_thread_is_raised_by_join_after_it_finished() -> None:
    def work() -> None:
        time.sleep(0.2)
        raise ValueError("bad DWARF")

    background = Background(work, "test")
    background.wait()
    with pytest.raises(ValueError, match="bad DWARF"):
        background.join()
