"""coresnapd's warm snapshot worker: the same snapshot as the CLI, and it survives a kill -9 of
the worker, a child that crashes and a child that hangs; idle, it uses no CPU."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from coresnap.daemon import commands
from coresnap.daemon.warm import WarmWorker, built_in
from coresnap.snapshot.format import load
from tests import crashes
from tests.daemon.daemon_helpers import conf, coresnapd, cpu_ticks, names, replay, wait_for
from tests.snapshot_equal import comparable

BUILT_IN = "coresnap snapshot %c -o %S --resource %a --kv coresnap.object:%B --isolate"


@pytest.fixture(scope="module")
def crashed(tmp_path_factory: pytest.TempPathFactory) -> crashes.Crash:
    exe = crashes.build("snap_threads.c")  # 64 threads: a snapshot long enough to interrupt
    return crashes.crash(exe, cwd=tmp_path_factory.mktemp("warm"))


@pytest.fixture
def worker() -> Iterator[WarmWorker]:
    w = WarmWorker(logging.getLogger("test-warm"))
    w.start()
    try:
        yield w
    finally:
        w.close()


def _args(crash: crashes.Crash, out: Path, *extra: str) -> list[str]:
    return [str(crash.core), str(crash.exe), "-o", str(out), "--isolate", *extra]


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _in_thread(worker: WarmWorker, args: list[str]) -> tuple[threading.Thread, list]:
    result: list = []
    t = threading.Thread(target=lambda: result.append(worker.snapshot(args, 300, 4 << 30)))
    t.start()
    return t, result


def _child_of(worker: WarmWorker) -> int:
    found: list[int] = []
    wait_for(lambda: bool(found.extend(_children(worker.pid or 0)) or found), what="a child")
    return found[0]


def test_built_in_command_is_recognized() -> None:
    assert built_in(commands.expand(BUILT_IN, {})) is not None
    assert built_in(["coresnap", "kernel-snapshot", "x"]) is None
    assert built_in(["/opt/other/coresnap", "snapshot", "core", "-o", "s"]) is None
    assert built_in(["coresnap", "snapshot", "--no-such-flag"]) is None


def test_warm_snapshot_equals_the_cli(
    worker: WarmWorker, crashed: crashes.Crash, tmp_path: Path
) -> None:
    outcome = worker.snapshot(_args(crashed, tmp_path / "warm.snap"), 300, 4 << 30)
    assert outcome.returncode == 0, outcome.stderr
    cli = [sys.executable, "-m", "coresnap.cli.coresnap", "snapshot",
           *_args(crashed, tmp_path / "cli.snap")]  # fmt: skip
    subprocess.run(cli, check=True, capture_output=True)
    warm = load(tmp_path / "warm.snap")
    assert warm["analysis"]["engine"] == "drgn" and len(warm["threads"]) == 65
    assert comparable(warm) == comparable(load(tmp_path / "cli.snap"))
    assert worker.starts == 1


def test_worker_killed_between_jobs_is_started_again(
    worker: WarmWorker, crashed: crashes.Crash, tmp_path: Path
) -> None:
    first = worker.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: worker.pid is None, what="the reader to see the worker die")
    assert worker.snapshot(_args(crashed, tmp_path / "s"), 300, 4 << 30).returncode == 0
    assert worker.starts == 2 and worker.pid not in (None, first)


def test_worker_killed_during_a_job_retries_it(
    worker: WarmWorker, crashed: crashes.Crash, tmp_path: Path
) -> None:
    first = worker.pid
    t, result = _in_thread(worker, _args(crashed, tmp_path / "s"))
    child = _child_of(worker)
    os.kill(first or 0, signal.SIGKILL)
    t.join(300)
    assert result[0].returncode == 0, result[0].stderr
    assert worker.starts == 2
    wait_for(lambda: not Path(f"/proc/{child}").exists(), what="the orphaned child to die")
    assert load(tmp_path / "s")["analysis"]["engine"] == "drgn"


def test_crashing_child_falls_back_to_the_core_reader(
    worker: WarmWorker, crashed: crashes.Crash, tmp_path: Path
) -> None:
    t, result = _in_thread(worker, _args(crashed, tmp_path / "s"))
    os.kill(_child_of(worker), signal.SIGSEGV)
    t.join(300)
    assert result[0].returncode == 0, result[0].stderr
    snap = load(tmp_path / "s")
    assert snap["analysis"]["engine"] == "corefile"
    assert snap["analysis"]["fallback_reason"].startswith("snapshot child died of SIGSEGV")
    assert worker.starts == 1


def test_hanging_child_is_killed_at_its_timeout(
    worker: WarmWorker, crashed: crashes.Crash, tmp_path: Path
) -> None:
    t, result = _in_thread(worker, _args(crashed, tmp_path / "s", "--timeout", "3"))
    os.kill(_child_of(worker), signal.SIGSTOP)
    t.join(300)
    assert result[0].returncode == 0, result[0].stderr
    snap = load(tmp_path / "s")
    assert snap["analysis"]["engine"] == "corefile"
    assert snap["analysis"]["fallback_reason"] == (
        "snapshot child exceeded the wall-clock limit of 3 s"
    )


def test_daemon_with_warm_worker_commits_and_idles(tmp_path: Path, crashed: crashes.Crash) -> None:
    root, store = tmp_path / "root", tmp_path / "store"
    cfg = conf(tmp_path / "c.conf", root, store, snapshot__command=BUILT_IN)
    with coresnapd(cfg) as daemon:
        wait_for(lambda: "warm snapshot worker ready" in _log(tmp_path), timeout=120)
        [zygote] = _children(daemon.pid)
        before = cpu_ticks(daemon.pid) + cpu_ticks(zygote)
        threading.Event().wait(3)
        assert cpu_ticks(daemon.pid) + cpu_ticks(zygote) == before, "idle: no CPU"
        assert replay(root, crashed.core.read_bytes(), crashed.pid, "snap_threads") == 0
        wait_for(lambda: len(names(root / "committed")) == 1, timeout=120, what="committed")
        assert _children(daemon.pid) == [zygote], "the same worker, no new process per dump"
    snap = load(root / "committed" / names(root / "committed")[0])
    assert snap["analysis"]["engine"] == "drgn" and snap["fingerprint"]


def _log(tmp_path: Path) -> str:
    log = tmp_path / "coresnapd.log"
    return log.read_text() if log.exists() else ""
