"""The whole host pipeline under the real kernel: install, crash, coresnapd, list, uninstall."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from coresnap.capture import install
from coresnap.cli.coresnap import main as coresnap_main
from coresnap.snapshot.format import load
from coresnap.spool import counters
from coresnap.spool.assets import read_metadata
from tests import crashes
from tests.capture.hook import crash_piped, pipe_limit, short_dir
from tests.daemon.daemon_helpers import conf, coresnapd, names, wait_for


@pytest.fixture
def root() -> Iterator[Path]:
    d = short_dir()
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@contextlib.contextmanager
def installed(config: Path) -> Iterator[None]:
    """``coresnap install`` for real, under the core_pattern lock; restored in finally."""
    # core_pattern(None): the exclusive lock only (a pattern argument would be read before
    # the lock, possibly another test's); the restore is ours, in finally.
    with crashes.core_pattern(None) as before, pipe_limit(None):
        try:
            assert coresnap_main(["install", "-c", str(config), "--no-sysctl-file"]) == 0
            assert install.is_ours(crashes.read_core_pattern())
            yield
            assert coresnap_main(["uninstall", "-c", str(config)]) == 0
            assert crashes.read_core_pattern() == before
        finally:
            if crashes.read_core_pattern() != before:
                crashes.CORE_PATTERN.write_text(before + "\n")


def test_end_to_end(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dumps, store = root / "d", root / "s"
    cfg = conf(root / "c", dumps, store, snapshot__command=(
        "coresnap snapshot %c -o %S --resource %a --kv coresnap.object:%B --isolate"))  # fmt: skip
    exe = crashes.build("capture_crash.c")
    with installed(cfg), coresnapd(cfg):
        pids = [crash_piped(exe, ["segv"])[0], crash_piped(exe, ["abort"])[0]]
        wait_for(lambda: len(names(dumps / "committed")) == 2, timeout=90, what="2 committed")
    committed = names(dumps / "committed")
    assert names(store) == committed == names(dumps / "assets")
    snapshots = [load(dumps / "committed" / i) for i in committed]
    assert sorted(s["uuid"] for s in snapshots) == committed
    assert sorted(s["process"]["pid"] for s in snapshots) == sorted(pids)
    assert {s["signal"]["name"] for s in snapshots} == {"SIGSEGV", "SIGABRT"}
    assert counters.read(dumps) == {"archived": 2, "committed": 2}
    capsys.readouterr()
    assert coresnap_main(["list", "-a", "-c", str(cfg)]) == 0
    out = capsys.readouterr().out
    for dump_id in committed:
        assert f" committed/{dump_id[:12]}... -sa {exe.name[:8]}" in out
    assert "[committed]/2O/" in out


def test_disk_full_archive_stops_daemon_goes_on(root: Path) -> None:
    mnt = root / "m"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)], check=True)
    try:
        dumps, store = mnt / "d", root / "s"
        # Whole cores (a minicore of the big crash would fit).
        cfg = conf(root / "c", dumps, store, dump__quota="10", dump__keep="full")
        exe = crashes.build("capture_crash.c")
        with installed(cfg), coresnapd(cfg):
            crash_piped(exe, ["big", "64"])  # 32 MiB of data: cannot fit
            assert names(dumps / "pending") == [] and names(dumps / "staging") == []
            crash_piped(exe, ["segv"])
            wait_for(lambda: len(names(dumps / "committed")) == 1, what="small crash committed")
        values = counters.read(dumps)
        assert values.get("dropped.quota", 0) + values.get("dropped.no_space", 0) == 1, values
        assert values["committed"] == 1
        log = (root / "coresnapd.log").read_text()
        assert "coresnapd watching" in log
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_end_to_end_into_a_real_store(root: Path) -> None:
    """The default put step (``coroner put``) into a real coronerd on loopback."""
    import httpx

    from tests.store.coronerd_server import make_server

    server = make_server("sqlite", root / "store", None)
    server.start()
    try:
        project = server.project("capture")
        dumps = root / "d"
        cfg = conf(root / "c", dumps, root / "unused", snapshot__command=(
            "coresnap snapshot %c -o %S --resource %a --kv coresnap.object:%B --isolate"),
            put__command="coroner -c %C put %p %T %S", coroner__config=str(project.cf),
            defaults__project=project.name, defaults__token="blackhole")  # fmt: skip
        exe = crashes.build("capture_crash.c")
        with installed(cfg), coresnapd(cfg):
            crash_piped(exe, ["segv"])
            wait_for(lambda: len(names(dumps / "committed")) == 1, timeout=90, what="committed")
        [dump_id] = names(dumps / "committed")
        meta = httpx.get(f"{server.url}/api/v1/projects/{project.name}/objects/{dump_id}/meta",
                         headers=project.headers(), timeout=10)  # fmt: skip
        assert meta.status_code == 200, meta.text
        assert dump_id in meta.text
    finally:
        server.kill()


def test_truncated_core_still_gives_a_snapshot(root: Path) -> None:
    """A small ``ulimit -c``: the archive keeps the cut core, the real snapshot tool reads what
    it can, and the dump is committed (reduced quality), never stuck."""
    dumps, store = root / "d", root / "s"
    cfg = conf(root / "c", dumps, store, snapshot__command=(
        "coresnap snapshot %c -o %S --resource %a --kv coresnap.object:%B --isolate"))  # fmt: skip
    exe = crashes.build("capture_crash.c")
    with installed(cfg), coresnapd(cfg):
        crash_piped(exe, ["threads", "2"], core_limit=64 * 1024)
        wait_for(lambda: len(names(dumps / "committed")) == 1, timeout=90, what="committed")
    [dump_id] = names(dumps / "committed")
    snapshot = load(dumps / "committed" / dump_id)
    assert snapshot["analysis"].get("core_truncated") is True, snapshot["analysis"]
    assert snapshot["quality"] is None or snapshot["quality"]["score"] < 100
    assert snapshot["process"]["pid"] and len(snapshot["threads"]) == 3


def test_minicore_end_to_end_and_coresnap_gdb_opens_it(root: Path) -> None:
    """A minicore written from the kernel's pipe, its snapshot made by the warm worker, the
    kept core opened by ``coresnap gdb``."""
    dumps, store = root / "d", root / "s"
    cfg = conf(root / "c", dumps, store, dump__minicore_above="0", retention__core="keep",
               snapshot__command=("coresnap snapshot %c -o %S --resource %a "
                                  "--kv coresnap.object:%B --isolate"))  # fmt: skip
    exe = crashes.build("capture_crash.c")
    with installed(cfg), coresnapd(cfg):
        crash_piped(exe, ["segv"])
        wait_for(lambda: len(names(dumps / "committed")) == 2, timeout=90, what="committed")
    dump_id = names(dumps / "committed")[0]
    assert names(dumps / "committed") == [dump_id, f"{dump_id}.core"]
    meta = read_metadata(dumps / "assets" / dump_id)
    assert meta["core"]["keep"] == "minicore" and meta["core"]["verified"]
    assert meta["core"]["size"] < meta["core"]["stream_bytes"]
    snap = load(dumps / "committed" / dump_id)
    assert snap["analysis"]["engine"] == "drgn"
    assert snap["threads"][0]["frames"][0]["function"] == "segv"
    gdb = subprocess.run(
        [sys.executable, "-m", "coresnap.cli.coresnap", "gdb", "-c", str(cfg), dump_id[:8],
         "-batch", "-ex", "bt"], capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "in segv () at" in gdb.stdout or "segv () at" in gdb.stdout, gdb.stdout + gdb.stderr
