"""The minicore writer on real cores fed as a pipe would feed them: the notes-only mode, a
stream cut short, garbage, no read-ahead, and mutated heads (only a whole core or a minicore
comes out, never an exception), each within bounded memory."""

from __future__ import annotations

import io
import os
import shutil
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coresnap.analysis import chunks
from coresnap.capture import elfcheck, heapwalk, minicore, readahead
from coresnap.corefile import open_core
from tests import crashes

MAX_PEAK = 16 << 20  # bytes allocated at once while cutting one core (1 MiB blocks)


@pytest.fixture(scope="module")
def crashed(tmp_path_factory: pytest.TempPathFactory) -> crashes.Crash:
    exe = crashes.build("cls_uaf_fastbin.c")
    return crashes.crash(exe, cwd=tmp_path_factory.mktemp("stream"))


def _cut(data: bytes, out: Path, memory: Path | None, mode: str = "minicore") -> minicore.Result:
    reader = readahead.CoreMemory(memory) if memory else None
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        return minicore.stream(io.BytesIO(data), fd, 1 << 40, None, mode=mode,
                               memory=lambda: reader, budget=32 << 20)  # fmt: skip
    finally:
        os.close(fd)


def test_heap_walk_follows_the_analysis_bound() -> None:
    assert heapwalk.MAX_CHUNKS == chunks.MAX_CHUNKS + 1


def test_none_keeps_the_notes_and_every_thread(crashed: crashes.Crash, tmp_path: Path) -> None:
    out = tmp_path / "notes"
    result = _cut(crashed.core.read_bytes(), out, None, mode="none")
    assert result.keep == "none" and result.written == 0
    with open_core(crashed.core) as whole, open_core(out) as notes:
        assert [t.registers for t in notes.threads] == [t.registers for t in whole.threads]
        assert notes.signal == whole.signal
        assert [m.start for m in notes.mappings] == [m.start for m in whole.mappings]
        assert all(not s.p_filesz for s in notes.segments)


def test_a_stream_cut_short_is_marked_truncated(crashed: crashes.Crash, tmp_path: Path) -> None:
    data = crashed.core.read_bytes()
    out = tmp_path / "cut"
    result = _cut(data[: len(data) * 2 // 3], out, crashed.core)
    assert result.keep == "minicore" and result.truncated
    with open(out, "rb") as f:
        check = elfcheck.check(f, out.stat().st_size)
    assert check.is_core and check.thread_pids == [crashed.pid] and not check.problem


@pytest.mark.parametrize("why", ["garbage", "no read-ahead"])
def test_doubt_keeps_the_core_whole_and_says_why(
    crashed: crashes.Crash, tmp_path: Path, why: str
) -> None:
    data = os.urandom(1 << 20) if why == "garbage" else crashed.core.read_bytes()
    out = tmp_path / "whole"
    result = _cut(data, out, None)
    assert result.keep == "full" and out.read_bytes() == data
    assert result.facts["kept_whole"] == (
        "not a 64-bit ELF file" if why == "garbage"
        else "the process's memory cannot be read ahead (/proc/<pid>/mem)"
    )  # fmt: skip


@settings(max_examples=150, deadline=5000, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(edits=st.lists(st.tuples(st.integers(0, 8191), st.integers(0, 255)), min_size=1,
                      max_size=8))  # fmt: skip
def test_mutated_heads_never_escape(
    crashed: crashes.Crash, tmp_path: Path, edits: list[tuple[int, int]]
) -> None:
    data = bytearray(crashed.core.read_bytes())
    for at, value in edits:
        data[at % len(data)] = value
    tracemalloc.start()
    try:
        result = _cut(bytes(data), tmp_path / "m", crashed.core)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.keep in ("minicore", "full")
    assert peak - len(data) < MAX_PEAK, peak


@pytest.mark.skipif(not shutil.which("node"), reason="needs node (Debian's nodejs)")
def test_a_v8_process_is_kept_whole(tmp_path: Path) -> None:
    node = Path(shutil.which("node") or "node")
    crashed = crashes.crash(node, ["-e", "function crashHere() { process.abort() } crashHere()"],
                            cwd=tmp_path / "crash")  # fmt: skip
    result = _cut(crashed.core.read_bytes(), tmp_path / "m", crashed.core)
    assert result.keep == "full"
    assert result.facts["kept_whole"].startswith("it maps ")
    assert "(data/minicore/keep_whole.txt)" in result.facts["kept_whole"]
