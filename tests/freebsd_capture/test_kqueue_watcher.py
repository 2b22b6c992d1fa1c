"""coresnapd's FreeBSD watcher: the real kqueue where Python has one, and on Linux the whole
daemon on the KqueueWatcher over a kqueue stand-in (kqueue_coresnapd.py) fed by the devd
companion, as on a FreeBSD host."""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from coresnap.daemon import watch
from coresnap.snapshot.format import load
from tests.bsdcore import build_freebsd_core
from tests.crashes import build, crash

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


@pytest.mark.skipif(not hasattr(select, "kqueue"),
                    reason="NOT RUN: select.kqueue does not exist on this system (Linux); "
                    "the real kqueue path runs on FreeBSD/macOS only")  # fmt: skip
def test_real_kqueue_wakes_on_rename_into_the_directory(tmp_path: Path) -> None:
    (tmp_path / "pending").mkdir()
    w = watch.KqueueWatcher([tmp_path / "pending"])
    try:
        assert w.wait(0.2) is False
        (tmp_path / "x").write_text("core")
        os.rename(tmp_path / "x", tmp_path / "pending" / "x")
        assert w.wait(5) is True
        assert w.wait(0) is False  # EV_CLEAR: consumed
        threading.Timer(0.1, w.wake).start()
        assert w.wait(5) is True
    finally:
        w.close()


def test_coresnapd_on_the_kqueue_backend_commits_devd_cores(tmp_path: Path) -> None:
    c = crash(build("bsd_null.c"), cwd=tmp_path / "run", expect_signal=signal.SIGSEGV)
    core = tmp_path / "core.freebsd"
    build_freebsd_core(c.core, core, cwd=c.exe.parent)
    root, incoming, store = tmp_path / "dumps", tmp_path / "incoming", tmp_path / "store"
    incoming.mkdir(mode=0o1777)
    store.mkdir()
    conf = tmp_path / "coresnap.conf"
    conf.write_text(f"dump.root = {root}\ndump.quota = 1\nlog.file = {tmp_path / 'log'}\n"
                    f"put.command = cp %S {store}/%B\nratelimit.exe = 0\n")  # fmt: skip
    counts = tmp_path / "kevents"
    proc = subprocess.Popen([sys.executable, str(HERE / "kqueue_coresnapd.py"), str(counts),
                             "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=open(tmp_path / "stderr", "wb"))  # fmt: skip  # noqa: SIM115
    try:
        deadline = time.monotonic() + 30
        while "coresnapd watching" not in _read(tmp_path / "log"):
            assert proc.poll() is None and time.monotonic() < deadline, _read(tmp_path / "stderr")
            time.sleep(0.05)
        for _ in range(2):  # two crashes, each as devd reports it
            shutil.copyfile(core, incoming / f"{c.pid}.core")
            out = subprocess.run([str(BIN / "coresnap"), "devd-core", "-c", str(conf),
                                  "--incoming", str(incoming), str(incoming / f"{c.pid}.core")],
                                 capture_output=True, text=True, timeout=60)  # fmt: skip
            assert out.returncode == 0, out.stderr
        deadline = time.monotonic() + 120
        while len(os.listdir(store)) < 2:
            assert proc.poll() is None and time.monotonic() < deadline, _read(tmp_path / "log")
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    assert int(counts.read_text()) >= 2  # the kqueue events woke it: it does not poll
    for name in os.listdir(store):
        snap = load(store / name)
        assert snap["signal"]["name"] == "SIGSEGV" and snap["process"]["pid"] == c.pid
    assert os.listdir(root / "pending") == []


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""
