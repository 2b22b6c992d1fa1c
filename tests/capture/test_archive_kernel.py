"""coresnap-archive installed as the real kernel.core_pattern catches real crashes."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import tarfile
from pathlib import Path

import pytest

from coresnap.spool import counters
from coresnap.spool.assets import read_metadata
from tests import crashes
from tests.capture.hook import (
    archive_hook,
    crash_piped,
    pending_ids,
    short_dir,
    wait_for_handler,
    write_conf,
)


@pytest.fixture
def root():
    d = short_dir()
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def crasher() -> Path:
    return crashes.build("capture_crash.c")


def test_crash_lands_in_pending_with_assets(root: Path, crasher: Path) -> None:
    conf = write_conf(root / "c", log__file=str(root / "log"), dump__root=str(root / "d"))
    with archive_hook(None, conf):
        pid, sig = crash_piped(crasher, ["segv"])
    dumps = root / "d"
    [dump_id] = pending_ids(dumps)
    core = dumps / "pending" / dump_id
    assert core.read_bytes()[:4] == b"\x7fELF"
    assert list((dumps / "staging").iterdir()) == []
    meta = read_metadata(dumps / "assets" / dump_id)
    assert meta["pid"] == str(pid) and meta["signal"] == str(signal.SIGSEGV) == str(sig)
    assert meta["core_pattern"]["%e"] == crasher.name[:15]
    assert meta["core"]["verified"] and not meta["core"]["truncated"]
    assert meta["exe"] == str(crasher)
    with tarfile.open(dumps / "assets" / dump_id) as tar:
        names = tar.getnames()
        assert names[0] == "metadata.json"
        for member in ("proc/maps", "proc/status", "proc/cmdline", "meminfo", "uname", "boot_id"):
            assert member in names
        maps = tar.extractfile("proc/maps").read().decode()  # type: ignore[union-attr]
        assert str(crasher) in maps
        environ = tar.extractfile("proc/environ").read()  # type: ignore[union-attr]
        assert b"PATH=" in environ
    log = (root / "log").read_text()
    assert f"crash of pid {pid} ({crasher}) signal SIGSEGV" in log
    assert f"Crash dump archived in {core}" in log
    assert counters.read(dumps)["archived"] == 1


def test_sparse_core_uses_fewer_blocks(root: Path, crasher: Path) -> None:
    conf = write_conf(root / "c", dump__root=str(root / "d"), dump__keep="full")
    with archive_hook(None, conf):
        crash_piped(crasher, ["big", "64"])
    [dump_id] = pending_ids(root / "d")
    st = (root / "d" / "pending" / dump_id).stat()
    assert st.st_size > 64 << 20
    assert st.st_blocks * 512 < st.st_size * 0.7, (st.st_blocks * 512, st.st_size)


def test_small_rlimit_core_is_truncated_and_kept(root: Path, crasher: Path) -> None:
    with archive_hook(root):
        crash_piped(crasher, ["threads", "3"], core_limit=256 * 1024)
    [dump_id] = pending_ids(root)
    assert (root / "pending" / dump_id).stat().st_size == 256 * 1024
    meta = read_metadata(root / "assets" / dump_id)
    assert meta["core"]["truncated"] and meta["core"]["truncated_by"] == "%c (RLIMIT_CORE)"
    assert meta["core"]["threads"] == 4


def test_environment_outside_the_allow_list_is_left_out(root: Path, crasher: Path) -> None:
    os.environ["CORESNAP_TEST_SECRET"] = "hunter2"
    try:
        with archive_hook(root):
            crash_piped(crasher, ["abort"])
    finally:
        del os.environ["CORESNAP_TEST_SECRET"]
    [dump_id] = pending_ids(root)
    with tarfile.open(root / "assets" / dump_id) as tar:
        environ = tar.extractfile("proc/environ").read()  # type: ignore[union-attr]
        meta = json.loads(tar.extractfile("metadata.json").read())  # type: ignore[union-attr]
    assert b"hunter2" not in environ and b"PATH=" in environ
    assert meta["signal_name"] == "SIGABRT"


def test_crash_in_a_pid_namespace(root: Path, crasher: Path) -> None:
    """A container-like crash: %P (ours) differs from %p (its own), the notes hold %p."""
    with archive_hook(root):
        proc = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", str(crasher), "segv"],
                              capture_output=True, timeout=60,
                              preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE, (-1, -1)))  # fmt: skip
    assert proc.returncode != 0
    wait_for_handler(None)  # the child's %P is not known here
    # unshare re-raises its child's signal on itself, so it leaves a dump too.
    metas = [read_metadata(root / "assets" / i) for i in pending_ids(root)]
    [meta] = [m for m in metas if m["comm"] == crasher.name[:15]]
    assert meta["ns_pid"] == "1" and meta["pid"] != "1"
    assert meta["core"]["verified"]
    assert meta["namespaces"]["pid"].startswith("pid:[")
    assert meta["namespaces"]["pid"] != os.readlink("/proc/self/ns/pid")


def test_start_time_and_proc_stat(root: Path, crasher: Path) -> None:
    import time

    before = time.time()
    with archive_hook(root):
        crash_piped(crasher, ["segv"])
    [dump_id] = pending_ids(root)
    meta = read_metadata(root / "assets" / dump_id)
    assert before - 2 <= meta["start_time"] <= time.time()
    with tarfile.open(root / "assets" / dump_id) as tar:
        assert "proc/stat" in tar.getnames()
