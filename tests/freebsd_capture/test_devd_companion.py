"""FreeBSD userland capture without FreeBSD: a real crash re-encoded as the FreeBSD kernel
writes cores (tests/bsdcore.py), placed where kern.corefile puts it, then what devd runs on the
``coredump`` event (``coresnap devd-core $core $comm``), then the real coresnapd."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from coresnap.snapshot.format import load
from coresnap.spool import counters
from tests.bsdcore import build_freebsd_core
from tests.crashes import build, crash
from tests.daemon.daemon_helpers import wait_for

BIN = Path(sys.executable).parent


def conf(tmp: Path, root: Path, **settings: str) -> Path:
    values = {"dump.root": str(root), "dump.quota": "1", "log.file": str(tmp / "log"),
              "retry.backoff": "0.2s", "ratelimit.exe": "0", "ratelimit.fingerprint": "0",
              **{k.replace("__", "."): v for k, v in settings.items()}}  # fmt: skip
    path = tmp / "coresnap.conf"
    path.write_text("".join(f"{k} = {v}\n" for k, v in values.items()))
    return path


@pytest.fixture(scope="module")
def freebsd_core(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, Path]:
    """(FreeBSD-format core, its pid, the executable) of a real NULL store in bsd_null."""
    work = tmp_path_factory.mktemp("bsd")
    c = crash(build("bsd_null.c"), cwd=work / "run", expect_signal=signal.SIGSEGV)
    out = work / "core.freebsd"
    build_freebsd_core(c.core, out, cwd=c.exe.parent)
    return out, c.pid, c.exe


def place(core: Path, incoming: Path, pid: int) -> Path:
    """Put the core where ``kern.corefile = <incoming>/%P.core`` makes the kernel write it."""
    incoming.mkdir(mode=0o1777, exist_ok=True)
    target = incoming / f"{pid}.core"
    shutil.copyfile(core, target)
    return target


def devd_core(config: Path, incoming: Path, core: Path, *exe: Path) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """What devd runs (``coresnap devd-core $core``), plus an explicit executable if given."""
    return subprocess.run([str(BIN / "coresnap"), "devd-core", "-c", str(config), "--incoming",
                           str(incoming), str(core), *map(str, exe)], capture_output=True,
                          text=True, timeout=60)  # fmt: skip


def test_companion_spools_the_core_like_the_archive_tool(
    tmp_path: Path, freebsd_core: tuple[Path, int, Path]
) -> None:
    core, pid, exe = freebsd_core
    root, incoming = tmp_path / "dumps", tmp_path / "incoming"
    config = conf(tmp_path, root)
    target = place(core, incoming, pid)
    out = devd_core(config, incoming, target)  # exactly what devd runs
    assert out.returncode == 0, out.stderr
    assert not target.exists()  # moved, not copied and left behind
    [dump_id] = os.listdir(root / "pending")
    pending = root / "pending" / dump_id
    assert pending.read_bytes() == core.read_bytes()
    assert pending.stat().st_blocks * 512 < core.stat().st_size  # zero pages became holes
    with tarfile.open(root / "assets" / dump_id) as tar:
        assert tar.getnames()[0] == "metadata.json"
        meta = json.loads(tar.extractfile("metadata.json").read())  # type: ignore[union-attr]
    assert meta["pid"] == str(pid) and meta["signal"] == "11" and meta["signal_name"] == "SIGSEGV"
    assert meta["exe_path"] == str(exe) and exe.name.startswith(meta["comm"]) and meta["comm"]
    assert meta["capture"] == "devd" and meta["core_source"] == str(target)
    assert meta["core"]["size"] == core.stat().st_size and not meta["core"]["truncated"]
    assert counters.read(root)["archived"] == 1
    assert "Crash dump archived in" in (tmp_path / "log").read_text()


def test_coresnapd_takes_it_to_committed(
    tmp_path: Path, freebsd_core: tuple[Path, int, Path]
) -> None:
    core, pid, exe = freebsd_core
    root, incoming, store = tmp_path / "dumps", tmp_path / "incoming", tmp_path / "store"
    store.mkdir()
    config = conf(tmp_path, root, put__command=f"cp %S {store}/%B")
    assert devd_core(config, incoming, place(core, incoming, pid)).returncode == 0  # as devd
    proc = subprocess.Popen([str(BIN / "coresnapd"), "-c", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_for(lambda: bool(os.listdir(root / "committed")), 120, "committed")
    finally:
        proc.terminate()
        proc.wait(20)
    [dump_id] = os.listdir(store)
    snap = load(store / dump_id)
    assert snap["uuid"] == dump_id and snap["process"]["pid"] == pid
    assert snap["signal"]["name"] == "SIGSEGV"
    crashed = next(t for t in snap["threads"] if t["crashed"])
    assert [f["function"] for f in crashed["frames"]][:3] == ["store", "fault_here", "main"]
    assert os.listdir(root / "pending") == [] and os.listdir(root / "failed") == []


def test_hostile_files_are_refused(tmp_path: Path, freebsd_core: tuple[Path, int, Path]) -> None:
    core, pid, exe = freebsd_core
    root, incoming = tmp_path / "dumps", tmp_path / "incoming"
    config = conf(tmp_path, root)
    incoming.mkdir(mode=0o1777)
    secret = tmp_path / "secret"
    secret.write_text("root's file")
    link = incoming / f"{pid}.core"
    link.symlink_to(secret)  # a user replaced the core with a link to someone else's file
    assert devd_core(config, incoming, link, exe).returncode == 1
    link.unlink()
    os.link(secret, link)  # a hard link: same inode as root's file
    assert devd_core(config, incoming, link, exe).returncode == 1
    assert secret.read_text() == "root's file" and link.exists()
    link.unlink()
    outside = place(core, tmp_path / "elsewhere", pid)
    assert devd_core(config, incoming, outside, exe).returncode == 1 and outside.exists()
    wrong = place(core, incoming, pid + 1)  # named for another pid than its notes say
    assert devd_core(config, incoming, wrong, exe).returncode == 1 and not wrong.exists()
    not_core = incoming / f"{pid + 2}.core"
    not_core.write_bytes(b"\x7fELF" + b"\0" * 100)
    assert devd_core(config, incoming, not_core, exe).returncode == 1 and not not_core.exists()
    assert not (root / "pending").exists() or os.listdir(root / "pending") == []
    assert counters.read(root)["dropped.invalid"] == 5


def test_quota_drops_and_counts(tmp_path: Path, freebsd_core: tuple[Path, int, Path]) -> None:
    core, pid, exe = freebsd_core
    root, incoming = tmp_path / "dumps", tmp_path / "incoming"
    config = conf(tmp_path, root, dump__quota="99.9")
    target = place(core, incoming, pid)
    out = devd_core(config, incoming, target, exe)
    assert out.returncode == 1 and "quota" in out.stderr
    assert not target.exists() and os.listdir(root / "pending") == []
    assert counters.read(root)["dropped.quota"] == 1


def test_sweep_takes_the_cores_devd_missed(
    tmp_path: Path, freebsd_core: tuple[Path, int, Path]
) -> None:
    """``devd-core --sweep`` (run by rc.d at start): old cores are archived, a core the kernel
    may still be writing (changed in the last --quiet seconds) is left for later."""
    core, pid, _exe = freebsd_core
    root, incoming = tmp_path / "dumps", tmp_path / "incoming"
    config = conf(tmp_path, root)
    old = place(core, incoming, pid)
    os.utime(old, (time.time() - 120, time.time() - 120))
    fresh = incoming / f"{pid + 7}.core"
    shutil.copyfile(core, fresh)
    (incoming / "notes.txt").write_text("not a core name: left alone")
    out = subprocess.run([str(BIN / "coresnap"), "devd-core", "--sweep", "-c", str(config),
                          "--incoming", str(incoming)], capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert sorted(os.listdir(incoming)) == [fresh.name, "notes.txt"]
    assert len(os.listdir(root / "pending")) == 1
