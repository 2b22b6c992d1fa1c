"""The spool: stages are directories, transitions are renames, recover() undoes dead writers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from coresnap.spool import counters
from coresnap.spool.stages import Spool, Stage


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    s = Spool(tmp_path)
    s.create()
    return s


def test_stage_values_are_the_directories(spool: Spool) -> None:
    assert {d.name for d in spool.root.iterdir()} == {s.value for s in Stage}
    assert [s.value for s in Stage][:5] == ["staging", "pending", "sending", "committed", "failed"]


def test_publish_advance_fail_retry(spool: Spool) -> None:
    dump_id = uuid.uuid4().hex
    temp = spool.staging_path(dump_id, "core")
    temp.write_bytes(b"core")
    spool.publish(temp, Stage.PENDING, dump_id)
    assert spool.ids(Stage.PENDING) == [dump_id] and not temp.exists()
    spool.fail(dump_id, Stage.PENDING, "snapshot exited 3")
    assert spool.path(Stage.FAILED, dump_id, ".reason").read_text() == "snapshot exited 3\n"
    assert spool.ids(Stage.PENDING) == [] and spool.ids(Stage.FAILED) == [dump_id]
    assert spool.retry(dump_id) is Stage.PENDING
    assert spool.ids(Stage.PENDING) == [dump_id]
    assert not spool.path(Stage.FAILED, dump_id, ".reason").exists()
    spool.advance(dump_id, Stage.PENDING, Stage.SENDING)
    spool.fail(dump_id, Stage.SENDING, "store said 401")
    assert spool.path(Stage.FAILED, dump_id, ".snap").exists()
    assert spool.retry(dump_id) is Stage.SENDING
    with pytest.raises(FileNotFoundError):
        spool.retry(dump_id)


def test_recover_removes_what_dead_writers_left(spool: Spool) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    alive_id, dead_id, orphan_id, kept_id = (uuid.uuid4().hex for _ in range(4))
    alive = spool.path(Stage.STAGING, alive_id, f".core.{os.getppid()}")
    dead_file = spool.path(Stage.STAGING, dead_id, f".core.{gone.pid}")
    for p in (alive, dead_file):
        p.write_bytes(b"x")
    orphan = spool.path(Stage.ASSETS, orphan_id)
    orphan.write_bytes(b"tar")
    os.utime(orphan, (0, 0))
    spool.path(Stage.ASSETS, kept_id).write_bytes(b"tar")
    os.utime(spool.path(Stage.ASSETS, kept_id), (0, 0))
    spool.path(Stage.PENDING, kept_id).write_bytes(b"core")
    spool.path(Stage.FAILED, dead_id, ".reason").write_text("x\n")
    actions = spool.recover()
    assert alive.exists() and not dead_file.exists()
    assert not orphan.exists() and spool.path(Stage.ASSETS, kept_id).exists()
    assert not spool.path(Stage.FAILED, dead_id, ".reason").exists()
    assert len(actions) == 3


def test_counters_add_up_across_processes(tmp_path: Path) -> None:
    code = "import sys; from coresnap.spool import counters; counters.bump(sys.argv[1], {'x': 1})"
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)]) for _ in range(20)]
    assert all(p.wait() == 0 for p in procs)
    assert counters.read(tmp_path) == {"x": 20}
    assert counters.dropped({"dropped.quota": 2, "dropped.invalid": 1, "archived": 5}) == 3


def test_counters_survive_kill_9_and_leave_no_temp_file(tmp_path: Path) -> None:
    code = (
        "import sys; from coresnap.spool import counters\n"
        "while True: counters.bump(sys.argv[1], {'x': 1})"
    )
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)])
        time.sleep(0.3)
        proc.kill()
        proc.wait()
        before = counters.read(tmp_path)["x"]  # a whole file at any instant
        assert counters.bump(tmp_path, {"x": 1})["x"] == before + 1
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".counters.json")] == []
    assert (tmp_path / counters.RESERVE).stat().st_blocks * 512 >= counters.RESERVE_BYTES
