"""coresnapd on a temp dump root, fed by replayed archives (no kernel hook needed here)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from coresnap.daemon.pipeline import BESIDE, ENDS, PIPELINE, WRITTEN_BY_ARCHIVE
from coresnap.spool import counters
from coresnap.spool.stages import Spool, Stage
from tests import crashes
from tests.daemon.daemon_helpers import conf, coresnapd, cpu_ticks, names, replay, wait_for


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> crashes.Crash:
    exe = crashes.build("capture_crash.c")
    return crashes.crash(exe, ["segv"], cwd=tmp_path_factory.mktemp("daemon"))


@pytest.fixture
def env(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "root", tmp_path / "store"


def feed(root: Path, core: crashes.Crash, n: int, comm: str = "capture_crash") -> None:
    data = core.core.read_bytes()
    for _ in range(n):
        assert replay(root, data, core.pid, comm) == 0


def test_pipeline_table_covers_every_stage() -> None:
    stages = {s.source for s in PIPELINE} | {s.target for s in PIPELINE}
    assert stages | set(WRITTEN_BY_ARCHIVE) | set(ENDS) | set(BESIDE) == set(Stage)


def test_dumps_reach_committed(tmp_path: Path, env: tuple[Path, Path], core: crashes.Crash) -> None:
    root, store = env
    cfg = conf(tmp_path / "c.conf", root, store)
    feed(root, core, 3)
    ids = names(root / "pending")
    with coresnapd(cfg):
        wait_for(lambda: names(root / "committed") == ids, what="3 committed")
        feed(root, core, 2)  # arriving while it runs: inotify wakes it
        wait_for(lambda: len(names(root / "committed")) == 5, what="5 committed")
    assert names(store) == names(root / "committed")
    assert names(root / "pending") == names(root / "sending") == names(root / "staging") == []
    assert names(root / "assets") == names(root / "committed")  # snapshot kept, so assets too
    assert counters.read(root)["committed"] == 5
    log = (tmp_path / "coresnapd.log").read_text()
    assert f"crash {ids[0]} (capture_crash) processed in" in log


def test_idle_daemon_uses_no_cpu(tmp_path: Path, env: tuple[Path, Path]) -> None:
    root, store = env
    with coresnapd(conf(tmp_path / "c.conf", root, store)) as proc:
        wait_for(lambda: (root / "coresnapd.lock").exists(), what="lock")
        time.sleep(1)
        before = cpu_ticks(proc.pid)
        time.sleep(3)
        assert cpu_ticks(proc.pid) - before == 0


def test_failing_snapshot_goes_to_failed_with_reason(
    tmp_path: Path, env: tuple[Path, Path], core: crashes.Crash
) -> None:
    root, store = env
    cfg = conf(tmp_path / "c.conf", root, store, snapshot__command="sh -c 'echo broken >&2; exit 3'",
               snapshot__retries="1")  # fmt: skip
    feed(root, core, 1)
    [dump_id] = names(root / "pending")
    with coresnapd(cfg):
        wait_for(lambda: dump_id in names(root / "failed"), what="failed")
    reason = (root / "failed" / f"{dump_id}.reason").read_text()
    assert reason == "snapshot: exit status 3: broken\n"
    assert (root / "assets" / dump_id).exists()
    assert counters.read(root)["failed"] == 1
    Spool(root).retry(dump_id)
    assert names(root / "pending") == [dump_id]


def test_unreachable_store_keeps_snapshots_waiting(
    tmp_path: Path, env: tuple[Path, Path], core: crashes.Crash
) -> None:
    root, store = env
    up = tmp_path / "store-is-up"
    cfg = conf(
        tmp_path / "c.conf", root, store, put__command=f"sh -c 'test -e {up} && cp %S {store}/%B'"
    )
    feed(root, core, 3)
    with coresnapd(cfg):
        wait_for(lambda: len(names(root / "sending")) == 3, what="3 sending")
        time.sleep(1.5)  # several failed puts, with backoff
        assert names(root / "failed") == [] and names(root / "committed") == []
        up.touch()
        wait_for(lambda: len(names(root / "committed")) == 3, timeout=20, what="3 committed")
    assert "retrying in" in (tmp_path / "coresnapd.log").read_text()


def test_kill_between_snapshot_and_core_disposal_is_finished(
    tmp_path: Path, env: tuple[Path, Path], core: crashes.Crash
) -> None:
    root, store = env
    cfg = conf(tmp_path / "c.conf", root, store)
    feed(root, core, 1)
    [dump_id] = names(root / "pending")
    spool = Spool(root)
    (root / "sending" / dump_id).write_bytes(b"a snapshot made before the kill")
    leftover = spool.path(Stage.STAGING, dump_id, ".snap.999999999")
    leftover.write_bytes(b"half")
    with coresnapd(cfg):
        wait_for(lambda: names(root / "committed") == [dump_id], what="committed")
    assert not leftover.exists() and names(root / "pending") == []
    assert (store / dump_id).read_bytes() == b"a snapshot made before the kill"


@pytest.mark.parametrize("policy", ["keep", "compress"])
def test_core_retention(
    tmp_path: Path, env: tuple[Path, Path], core: crashes.Crash, policy: str
) -> None:
    root, store = env
    feed(root, core, 1)
    [dump_id] = names(root / "pending")
    with coresnapd(conf(tmp_path / "c.conf", root, store, retention__core=policy)):
        wait_for(lambda: dump_id in names(root / "committed"), what="committed")
    suffix = ".core" if policy == "keep" else ".core.zst"
    kept = root / "committed" / f"{dump_id}{suffix}"
    assert kept.exists()
    if policy == "keep":
        assert kept.read_bytes() == core.core.read_bytes()
    else:
        import zstandard

        assert (
            zstandard.ZstdDecompressor().decompressobj().decompress(kept.read_bytes())
            == core.core.read_bytes()
        )


def test_keep_first_cores_per_exe(
    tmp_path: Path, env: tuple[Path, Path], core: crashes.Crash
) -> None:
    root, store = env
    feed(root, core, 3, comm="a")
    feed(root, core, 2, comm="b")
    with coresnapd(conf(tmp_path / "c.conf", root, store, retention__keep_per_exe="1")):
        wait_for(lambda: len(names(store)) == 5, what="5 stored")
    kept = [n for n in names(root / "committed") if n.endswith(".core")]
    assert len(kept) == 2  # one of a, one of b


def test_exe_rate_limit_drops_and_counts(
    tmp_path: Path, env: tuple[Path, Path], core: crashes.Crash
) -> None:
    root, store = env
    feed(root, core, 5, comm="stormy")
    feed(root, core, 1, comm="calm")
    with coresnapd(conf(tmp_path / "c.conf", root, store, ratelimit__exe="2/1m")):
        wait_for(lambda: names(root / "pending") == [] and len(names(store)) == 3, what="done")
        time.sleep(0.3)
    values = counters.read(root)
    assert values["dropped.ratelimit.exe"] == 3 and values["dropped_by_exe.stormy"] == 3
    assert values["committed"] == 3
    assert len(names(root / "assets")) == 3  # the dropped dumps' assets went with them


def test_fingerprint_rate_limit(
    tmp_path: Path, env: tuple[Path, Path], core: crashes.Crash
) -> None:
    root, store = env
    feed(root, core, 4, comm="same")
    with coresnapd(conf(tmp_path / "c.conf", root, store, ratelimit__fingerprint="1/1m")):
        wait_for(lambda: names(root / "pending") == [] and len(names(store)) == 1, what="done")
        time.sleep(0.3)
    assert counters.read(root)["dropped.ratelimit.fingerprint"] == 3
    assert names(root / "sending") == []


def test_purge_by_age_and_total(
    tmp_path: Path, env: tuple[Path, Path], core: crashes.Crash
) -> None:
    root, store = env
    feed(root, core, 2)
    with coresnapd(conf(tmp_path / "c.conf", root, store, retention__core="keep")):
        wait_for(lambda: len(names(store)) == 2, what="stored")
    old = names(root / "committed")[0].split(".")[0]
    for p in (root / "committed").glob(f"{old}*"):
        os.utime(p, (1, 1))
    with coresnapd(conf(tmp_path / "c.conf", root, store, retention__core="keep", purge__age="1d")):
        wait_for(
            lambda: not any(n.startswith(old) for n in names(root / "committed")), what="purged"
        )
    assert old not in names(root / "assets")
    with coresnapd(conf(tmp_path / "c.conf", root, store, purge__total="1k")):
        wait_for(lambda: names(root / "committed") == [], what="capped")


def test_one_daemon_per_root(tmp_path: Path, env: tuple[Path, Path]) -> None:
    root, store = env
    cfg = conf(tmp_path / "c.conf", root, store)
    with coresnapd(cfg):
        wait_for(
            lambda: (root / "coresnapd.lock").exists() and (root / "coresnapd.lock").read_text(),
            what="lock",
        )
        with coresnapd(cfg) as second:
            assert second.wait(10) == 1
    assert "another coresnapd" in (tmp_path / "coresnapd.stderr").read_text()


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A temp dir nobody can traverse (pytest's own are root-only)."""
    import shutil

    from tests.capture.hook import short_dir

    work = short_dir()
    os.chmod(work, 0o755)
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_dump_user_owns_what_the_daemon_must_write(core: crashes.Crash, open_dir: Path) -> None:
    """The archive tool (root) writes as dump.user; a process of that user (coresnapd, least
    privilege) can then take the daemon lock, count, and move dumps between stages.

    (Run in a forked child that drops to nobody: this machine's interpreter lives under /root,
    which nobody cannot exec, so a whole unprivileged coresnapd cannot be started here.)
    """
    import traceback

    from coresnap.daemon.service import LOCK_FILE

    root = open_dir / "root"
    cfg = conf(open_dir / "c.conf", root, open_dir / "s", dump__user="nobody",
               dump__group="nogroup")  # fmt: skip
    data = core.core.read_bytes()
    for _ in range(2):
        assert replay(root, data, core.pid, config=cfg) == 0  # as root, like the kernel
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: become nobody and do what coresnapd does to the spool
        status = 0
        try:
            os.setgid(65534)
            os.setuid(65534)
            spool = Spool(root)
            with open(root / LOCK_FILE, "a+") as lock:
                lock.write("1\n")
            counters.bump(root, {"committed": 1})
            first, second = spool.ids(Stage.PENDING)
            temp = spool.staging_path(first, "snap")
            temp.write_bytes(b"snapshot")
            spool.publish(temp, Stage.SENDING, first)
            spool.path(Stage.PENDING, first).read_bytes()
            spool.path(Stage.PENDING, first).unlink()
            spool.advance(first, Stage.SENDING, Stage.COMMITTED)
            spool.fail(second, Stage.PENDING, "as nobody")
        except BaseException:
            os.write(write_end, traceback.format_exc().encode())
            status = 1
        os._exit(status)
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(read_end) as errors:
        assert status == 0, errors.read()
    assert counters.read(root)["committed"] == 1 and len(names(root / "committed")) == 1
    assert (root / "pending").stat().st_uid == 65534 == root.stat().st_uid
