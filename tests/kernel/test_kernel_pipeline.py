"""Kernel dumps through the host pipeline: kernel-import → pending → coresnapd → committed,
into a real coronerd, with the vmcore kept or purged by the retention settings."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
import time
from pathlib import Path

import httpx
import pytest

from coresnap import config
from coresnap.capture.log import Log
from coresnap.kernel.capture import KIND, KernelImport, dump_id
from coresnap.snapshot.format import load
from coresnap.spool import counters
from tests.kernel.kernel_daemon import CORESNAP, coresnapd, names, wait_for, write_conf
from tests.kernel.kernel_samples import (
    VERSION_13,
    VERSION_14,
    Variant,
    write_crashinfo,
    write_textdump,
)
from tests.store.coronerd_server import fresh_pg_database, make_server

OTHER = Variant(pid=77, tid=100777, when=1764430000, base=0xFFFFFE00DEAD0000, shift=0x20)


def kernel_import(conf: Path, crashdir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [str(CORESNAP), "kernel-import", "-c", str(conf), str(crashdir), "--quiet", "0"]
    return subprocess.run([*argv, *extra],
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_import_spools_dumps_like_the_archive_tool(tmp_path: Path) -> None:
    crash, root = tmp_path / "crash", tmp_path / "dumps"
    write_textdump(crash, 0, Variant())
    vmcore = write_crashinfo(crash, 1, Variant())
    (crash / "vmcore.2").write_bytes(b"savecore still writing: no info.2 yet")
    conf = write_conf(tmp_path / "c.conf", root)
    info1 = (crash / "info.1").read_text()
    out = kernel_import(conf, crash)
    assert out.returncode == 0, out.stderr
    pending = names(root / "pending")
    assert len(pending) == 2 and dump_id(info1) in pending
    assert names(crash) == ["bounds", "vmcore.2"]  # sources gone, the incomplete dump left
    vm = root / "pending" / dump_id(info1)
    assert vm.stat().st_size == 1 << 20 and vm.read_bytes()[:4] == b"\x7fELF"
    assert not vmcore.exists()
    with tarfile.open(root / "assets" / dump_id(info1)) as tar:
        assert tar.getnames()[0] == "metadata.json"
        meta = json.loads(tar.extractfile("metadata.json").read())  # type: ignore[union-attr]
        assert {"kernel/info", "kernel/core.txt"} <= set(tar.getnames())
    assert meta["kind"] == KIND and meta["exe"] == "/boot/kernel/kernel"
    assert meta["core"]["source"] == "vmcore.1" and meta["core"]["size"] == 1 << 20
    assert meta["core"]["moved"] == "rename" and meta["core"]["disk_bytes"] < 1 << 20
    assert meta["kernel"]["panic"] == "page fault" and meta["kernel"]["version"] == VERSION_14
    assert counters.read(root)["archived"] == 2
    # The same dump again (a kill between publishing and cleaning up): nothing new is spooled.
    write_crashinfo(crash, 1, Variant())
    out = kernel_import(conf, crash)
    assert "already spooled" in out.stdout and len(names(root / "pending")) == 2
    assert names(crash) == ["bounds", "vmcore.2"]


def test_import_waits_for_crashinfo_and_respects_the_quota(tmp_path: Path) -> None:
    crash, root = tmp_path / "crash", tmp_path / "dumps"
    write_crashinfo(crash, 0, Variant())
    (crash / "core.txt.0").unlink()  # crashinfo has not run (yet)
    cfg = config.parse_text(write_conf(tmp_path / "c.conf", root).read_text(), "test")
    log = Log("test-kernel-import")
    assert KernelImport(cfg, str(root), log).run(crash, quiet=0) == []
    assert names(crash) == ["bounds", "info.0", "vmcore.0"]
    old = time.time() - 700
    for p in crash.iterdir():
        os.utime(p, (old, old))
    full = cfg.replace({"dump.quota": "99.9"})
    assert KernelImport(full, str(root), log).run(crash) == []  # the disk is "full": left in place
    assert names(crash) == ["bounds", "info.0", "vmcore.0"]
    assert counters.read(root)["dropped.kernel_import"] == 1
    [done] = KernelImport(cfg, str(root), log).run(crash)
    assert done.moved == "rename" and names(root / "pending") == [done.dump_id]


def test_copy_across_file_systems(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs /dev/shm on another file system than the temp dir")
    crash = shm / f"coresnap-kernel-test-{os.getpid()}"
    try:
        write_crashinfo(crash, 3, Variant(), vmcore_size=8 << 20)
        root = tmp_path / "dumps"
        cfg = config.parse_text(write_conf(tmp_path / "c.conf", root).read_text(), "test")
        [done] = KernelImport(cfg, str(root), Log("test-kernel-import")).run(crash, quiet=0)
        assert done.moved == "copy"
        core = root / "pending" / done.dump_id
        assert core.stat().st_size == 8 << 20 and core.stat().st_blocks * 512 < 1 << 20  # sparse
        assert names(crash) == ["bounds"]
    finally:
        subprocess.run(["rm", "-rf", str(crash)], check=False)


def test_coresnapd_commits_kernel_dumps_into_a_real_store(tmp_path: Path) -> None:
    server = make_server("sqlite", tmp_path / "store", None)
    server.start()
    try:
        project = server.project("kernel")
        crash, root = tmp_path / "crash", tmp_path / "dumps"
        conf = write_conf(tmp_path / "c.conf", root, put__command="coroner -c %C put %p %T %S",
                          coroner__config=str(project.cf), defaults__project=project.name,
                          retention__keep_per_fingerprint="1",
                          # one worker: two workers finishing two dumps of one fingerprint at
                          # once may both keep their core (retention counts kept cores unlocked)
                          daemon__workers="1")  # fmt: skip
        write_crashinfo(crash, 1, Variant())
        write_crashinfo(crash, 2, OTHER)  # the same panic on another day
        write_textdump(crash, 3, Variant(), kind="assert")
        write_textdump(crash, 4, OTHER)  # a textdump of the page fault in mydrv
        assert kernel_import(conf, crash).returncode == 0
        ids = names(root / "pending")
        assert len(ids) == 4
        with coresnapd(conf):
            wait_for(lambda: len([n for n in names(root / "committed") if "." not in n]) == 4,
                     timeout=90, what="4 committed")  # fmt: skip
        committed = names(root / "committed")
        snaps = {i: load(root / "committed" / i) for i in ids}
        vm1, vm2 = (next(i for i, s in snaps.items()
                         if s["kernel"]["source"] == "crashinfo" and s["timestamp"] == v.when)
                    for v in (Variant(), OTHER))  # fmt: skip
        # retention.keep_per_fingerprint = 1: the first vmcore of the panic is kept, the other
        # purged (which is first depends on the scan order); every other panic keeps its own.
        assert [f"{vm}.core" in committed for vm in (vm1, vm2)].count(True) == 1
        assert len([n for n in committed if n.endswith(".core")]) == 3
        assert names(root / "pending") == [] and names(root / "failed") == []
        for i, s in snaps.items():
            assert s["uuid"] == i and s["classification"]["labels"][0] == "kernel-panic"
        url = f"{server.url}/api/v1/projects/{project.name}/query"

        def query(**body: object) -> dict:
            reply = httpx.post(url, json=body, headers=project.headers(), timeout=10)
            assert reply.status_code == 200, reply.text
            return dict(reply.json())

        groups = {r["factor"]: r["count"] for r in query()["rows"]}
        assert sorted(groups.values()) == [1, 1, 2]  # crashinfo x2, textdump page fault, assert
        panics = query(filters=[{"attribute": "classification", "op": "equal",
                                 "value": "kernel-panic"}])  # fmt: skip
        assert panics["total"] == 4
        v13 = query(filters=[{"attribute": "kernel.version", "op": "equal", "value": VERSION_13}])
        assert v13["total"] == 2
        asserts = query(filters=[{"attribute": "classification", "op": "equal", "value": "assert"}])
        assert asserts["total"] == 1
        by_release = query(factor="kernel.release", sort="factor")
        assert {r["factor"]: r["count"] for r in by_release["rows"]} == {
            "13.2-RELEASE": 2, "14.1-RELEASE": 2}  # fmt: skip
    finally:
        server.kill()


def test_kernel_snapshots_group_in_postgresql(tmp_path: Path) -> None:
    """The same snapshots over the store's other database: grouped by fingerprint, queryable."""
    crash = tmp_path / "crash"
    write_crashinfo(crash, 1, Variant())
    write_crashinfo(crash, 2, OTHER)
    snaps = []
    for n in (1, 2):
        out = subprocess.run([str(CORESNAP), "kernel-snapshot", str(crash), "-n", str(n), "-o",
                              str(tmp_path / f"{n}.snap")], capture_output=True, text=True)  # fmt: skip
        assert out.returncode == 0, out.stderr
        snaps.append((tmp_path / f"{n}.snap").read_bytes())
    with fresh_pg_database() as url:
        server = make_server("postgresql", tmp_path / "store", url)
        server.start()
        try:
            p = server.project("kpg")
            base = f"{server.url}/api/v1/projects/{p.name}"
            for data in snaps:
                r = httpx.post(f"{base}/objects", content=data, headers=p.headers(), timeout=10)
                assert r.status_code == 201, r.text
            r = httpx.post(f"{base}/query", json={"filters": [
                {"attribute": "kernel.panic", "op": "equal", "value": "page fault"}]},
                headers=p.headers(), timeout=10)  # fmt: skip
            assert r.status_code == 200, r.text
            assert r.json()["total"] == 2 and len(r.json()["rows"]) == 1  # one group
        finally:
            server.kill()
