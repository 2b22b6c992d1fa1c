"""A real core of a process with a thousand threads: every thread is read, each with its own
registers and stack, the crashing one first; and the snapshot keeps them all."""

from __future__ import annotations

import signal
from pathlib import Path

from coresnap.corefile import open_core
from coresnap.snapshot.build import build_snapshot
from tests.crashes import build, crash

THREADS = 1000


def test_a_thousand_threads(tmp_path: Path) -> None:
    exe = build("core_many_threads.c", flags=("-g", "-O0", "-pthread"))
    result = crash(exe, (str(THREADS),), cwd=tmp_path, expect_signal=signal.SIGSEGV)
    with open_core(result.core) as core:
        assert len(core.threads) == THREADS + 1
        assert len({t.tid for t in core.threads}) == THREADS + 1
        assert core.crashed_thread is core.threads[0] and core.threads[0].tid == result.pid
        assert core.signal is not None and core.signal.addr == 0
        stacks = {t.sp >> 16 for t in core.threads}  # 64 KiB stacks: one per thread
        assert len(stacks) == THREADS + 1
    snap = build_snapshot(result.core, str(result.exe))
    assert len(snap["threads"]) == THREADS + 1
    assert snap["threads"][0]["crashed"] and snap["threads"][0]["frames"][0]["function"] == "main"
