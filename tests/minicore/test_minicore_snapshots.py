"""A minicore cut from a real core gives the snapshot of the whole core, and holds every byte
the snapshot read from it (C, C++, Go and Python crashes under the real kernel)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.minicore.minicore_support import (
    CASES,
    Case,
    core_reads,
    crash,
    cut,
    missing_reads,
    snapshot,
)
from tests.snapshot_equal import comparable


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_minicore_snapshot_equals_the_whole_core(case: Case, tmp_path: Path) -> None:
    if case.name.startswith("go") and not shutil.which("go"):
        pytest.skip("needs the Go toolchain (golang-go)")
    crashed = crash(case, tmp_path / "crash")
    mini = tmp_path / "mini"
    result = cut(crashed.core, mini)
    assert result.keep == "minicore", result.facts
    assert result.stream_bytes == crashed.core.stat().st_size
    assert result.facts["windows_left_out"] == 0
    trace = tmp_path / "strace.log"
    whole = snapshot(crashed.core, crashed.exe, trace)
    assert whole["threads"] and whole["threads"][0]["frames"], "the whole core has frames"
    assert comparable(snapshot(mini, crashed.exe)) == comparable(whole)
    reads = core_reads(trace, crashed.core)
    assert len(reads) > 10, "strace saw the snapshot read the core"
    assert missing_reads(crashed.core, mini, reads) == []


def _gdb_bt_full(exe: Path, core: Path) -> str:
    done = subprocess.run(["gdb", "-batch", "-nx", "-ex", "thread apply all bt full", str(exe),
                           str(core)], capture_output=True, text=True, timeout=300)  # fmt: skip
    return done.stdout


@pytest.mark.parametrize("name", ["c-heap-uaf", "c++-classes"])
def test_gdb_bt_full_of_a_minicore_equals_the_whole_core(name: str, tmp_path: Path) -> None:
    [case] = [c for c in CASES if c.name == name]
    crashed = crash(case, tmp_path / "crash")
    mini = tmp_path / "mini"
    assert cut(crashed.core, mini).keep == "minicore"
    whole = _gdb_bt_full(crashed.exe, crashed.core)
    assert "main ()" in whole or "main (" in whole
    assert _gdb_bt_full(crashed.exe, mini) == whole
