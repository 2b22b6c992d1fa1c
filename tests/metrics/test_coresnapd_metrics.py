"""coresnapd's /metrics: a real daemon over a real spool fed with real cores, scraped over HTTP."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from coresnap import config
from coresnap.daemon import metrics
from coresnap.daemon.dump import load
from coresnap.errors import ConfigError
from coresnap.spool.stages import Spool, Stage
from tests import crashes
from tests.capture.hook import archive_hook, crash_piped, short_dir
from tests.daemon.daemon_helpers import conf, coresnapd, names, wait_for
from tests.metrics.metrics_scrape import Scrape, boot_id, replay_crash, scrape
from tests.store.coronerd_server import free_port

SEGV_EXE = "/opt/metrics/segv_server"
ABRT_EXE = "/opt/metrics/abort_tool"


@pytest.fixture(scope="module")
def cores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, crashes.Crash]:
    exe = crashes.build("capture_crash.c")
    where = tmp_path_factory.mktemp("metrics-cores")
    return {
        "segv": crashes.crash(exe, ["segv"], cwd=where / "segv", expect_signal=11),
        "abort": crashes.crash(exe, ["abort"], cwd=where / "abort", expect_signal=6),
    }


@pytest.fixture
def daemon_conf(tmp_path: Path) -> Iterator[tuple[Path, Path, str]]:
    """(config, dump root, metrics URL) of a coresnapd with quick snapshots on a free port."""
    port = free_port()
    root = tmp_path / "root"
    cfg = conf(tmp_path / "c.conf", root, tmp_path / "store", metrics__listen=f"127.0.0.1:{port}")
    yield cfg, root, f"http://127.0.0.1:{port}/metrics"


def feed(root: Path, crash: crashes.Crash, exe: str, n: int) -> None:
    for _ in range(n):
        assert replay_crash(root, crash.core, crash.pid, crash.signal, exe) == 0


def ready(url: str) -> Scrape:
    wait_for(lambda: _answers(url), what="metrics server")
    return scrape(url)


def settled(url: str, name: str, value: float, **labels: str) -> Scrape:
    """The first scrape where ``name{labels}`` reached ``value`` (the daemon counts just after
    each rename, so the files can be ahead of the metrics for an instant)."""
    found: list[Scrape] = []
    wait_for(lambda: found.append(scrape(url)) or found[-1].value(name, **labels) == value,
             what=f"{name}{labels} == {value}")  # fmt: skip
    return found[-1]


def _answers(url: str) -> bool:
    try:
        scrape(url)
    except Exception:
        return False
    return True


def test_crashes_counted_per_boot_exe_signal(
    daemon_conf: tuple[Path, Path, str], cores: dict[str, crashes.Crash]
) -> None:
    cfg, root, url = daemon_conf
    boot = boot_id()
    with coresnapd(cfg):
        before = ready(url)
        assert before.value("coredumps_total", boot_id=boot) == 0
        feed(root, cores["segv"], SEGV_EXE, 3)
        feed(root, cores["abort"], ABRT_EXE, 2)
        after = settled(url, "coresnapd_transitions_total", 5, target="committed")
    assert after.types["coredumps_total"] == "gauge"  # as seed 004's exporter has them
    assert after.value("coredumps_total", boot_id=boot) == 5
    assert after.value("coredumps", boot_id=boot, exe=SEGV_EXE, signal_name="SIGSEGV") == 3
    assert after.value("coredumps", boot_id=boot, exe=ABRT_EXE, signal_name="SIGABRT") == 2
    assert len(after.labels("coredumps")) == 2
    committed = [p for p in (root / "committed").iterdir()]
    snapshot_bytes = sum(p.stat().st_size for p in committed)
    core_bytes = 3 * cores["segv"].core.stat().st_size + 2 * cores["abort"].core.stat().st_size
    assert after.value("coresnapd_archived_total") == 5
    assert after.value("coresnapd_transitions_total", source="pending", target="sending") == 5
    assert after.value("coresnapd_transitions_total", source="sending", target="committed") == 5
    assert after.value("coresnapd_core_bytes_total") == core_bytes
    assert after.value("coresnapd_snapshot_bytes_total") == snapshot_bytes
    assert after.value("coresnapd_step_seconds_count", step="snapshot") == 5
    assert after.value("coresnapd_step_seconds_count", step="put") == 5
    assert after.value("coresnapd_processing_seconds_count") == 5
    assert after.value("coresnapd_spool_files", stage="committed") == 5
    assert after.value("coresnapd_spool_files", stage="pending") == 0
    assert after.value("coresnapd_spool_bytes", stage="committed") >= snapshot_bytes
    assert after.value("coresnapd_dropped_total") == 0


def test_kernel_crashes_by_real_exe_and_signal() -> None:
    """Through the real core_pattern pipe: the exe label is /proc/<pid>/exe, the boot id ours."""
    d = short_dir()
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        cfg = conf(d / "c", d / "d", d / "s", metrics__listen=f"127.0.0.1:{port}")
        exe = crashes.build("capture_crash.c")
        with coresnapd(cfg):
            ready(url)
            with archive_hook(None, conf=cfg):
                signals = [crash_piped(exe, [how])[1] for how in ("segv", "abort", "segv")]
            m = settled(url, "coresnapd_transitions_total", 3, target="committed")
    finally:
        shutil.rmtree(d, ignore_errors=True)
    assert signals == [11, 6, 11]
    real = os.path.realpath(exe)
    assert m.value("coredumps", boot_id=boot_id(), exe=real, signal_name="SIGSEGV") == 2
    assert m.value("coredumps", boot_id=boot_id(), exe=real, signal_name="SIGABRT") == 1
    assert m.value("coredumps_total", boot_id=boot_id()) == 3
    assert m.value("coresnapd_archived_total") == 3


def test_counts_survive_a_restart_histograms_do_not(
    daemon_conf: tuple[Path, Path, str], cores: dict[str, crashes.Crash]
) -> None:
    cfg, root, url = daemon_conf
    boot = boot_id()
    with coresnapd(cfg):
        ready(url)
        feed(root, cores["segv"], SEGV_EXE, 2)
        settled(url, "coresnapd_transitions_total", 2, target="committed")
    feed(root, cores["segv"], SEGV_EXE, 1)  # arrives while no daemon runs
    with coresnapd(cfg):
        ready(url)
        after = settled(url, "coresnapd_transitions_total", 3, target="committed")
    assert after.value("coredumps_total", boot_id=boot) == 3
    assert after.value("coresnapd_transitions_total", source="sending", target="committed") == 3
    assert after.value("coresnapd_processing_seconds_count") == 1  # in memory: since the restart


def test_backlog_counted_at_scrape(tmp_path: Path, cores: dict[str, crashes.Crash]) -> None:
    port = free_port()
    root = tmp_path / "root"
    url = f"http://127.0.0.1:{port}/metrics"
    cfg = conf(tmp_path / "c.conf", root, tmp_path / "store", metrics__listen=f"127.0.0.1:{port}",
               snapshot__command="sleep 60", daemon__workers="1")  # fmt: skip
    with coresnapd(cfg):
        ready(url)
        feed(root, cores["segv"], SEGV_EXE, 4)
        m = scrape(url)  # one dump in a (slow) snapshot, three waiting for a worker
        assert len(names(root / "pending")) == 4
    assert m.value("coredumps_total", boot_id=boot_id()) == 4
    assert m.value("coresnapd_spool_files", stage="pending") == 4
    assert m.value("coresnapd_transitions_total") == 0


def test_storm_drops_failures_and_reasons(tmp_path: Path, cores: dict[str, crashes.Crash]) -> None:
    port = free_port()
    root = tmp_path / "root"
    url = f"http://127.0.0.1:{port}/metrics"
    cfg = conf(tmp_path / "c.conf", root, tmp_path / "store", metrics__listen=f"127.0.0.1:{port}",
               ratelimit__exe="2/1h", daemon__workers="1")  # fmt: skip
    feed(root, cores["segv"], SEGV_EXE, 7)
    with coresnapd(cfg):
        ready(url)
        settled(url, "coresnapd_transitions_total", 2, target="committed")
        storm = settled(url, "coresnapd_transitions_total", 5, target="dropped")
    assert len(names(root / "committed")) == 2
    assert storm.value("coredumps_total", boot_id=boot_id()) == 7  # dropped ones are crashes too
    assert storm.value("coresnapd_dropped_total", reason="ratelimit.exe") == 5
    assert storm.value("coresnapd_transitions_total", source="pending", target="dropped") == 5

    broken = conf(tmp_path / "b.conf", root, tmp_path / "store", metrics__listen=f"127.0.0.1:{port}",
                  snapshot__command="sh -c 'exit 3'", snapshot__retries="1")  # fmt: skip
    feed(root, cores["abort"], ABRT_EXE, 1)
    with coresnapd(broken):
        ready(url)
        failed = settled(url, "coresnapd_transitions_total", 1, target="failed")
    assert failed.value("coresnapd_step_failures_total", step="snapshot", reason="exit_status") == 2
    assert failed.value("coresnapd_transitions_total", source="pending", target="failed") == 1
    assert failed.value("coredumps_total", boot_id=boot_id()) == 8  # retried: counted once


def test_put_failures_by_reason(tmp_path: Path, cores: dict[str, crashes.Crash]) -> None:
    port = free_port()
    root = tmp_path / "root"
    url = f"http://127.0.0.1:{port}/metrics"
    cfg = conf(tmp_path / "c.conf", root, tmp_path / "store", metrics__listen=f"127.0.0.1:{port}",
               put__command="sh -c 'kill -KILL $$'", put__retries="2")  # fmt: skip
    feed(root, cores["segv"], SEGV_EXE, 1)
    with coresnapd(cfg):
        ready(url)
        m = settled(url, "coresnapd_transitions_total", 1, source="sending", target="failed")
    assert m.value("coresnapd_step_failures_total", step="put", reason="killed") == 3
    assert m.value("coresnapd_step_failures_total") == 3
    assert m.value("coresnapd_transitions_total", source="pending", target="sending") == 1
    assert m.value("coresnapd_spool_files", stage="failed") == 2  # the snapshot and its reason


def test_exe_label_is_capped(
    tmp_path: Path, cores: dict[str, crashes.Crash], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics, "MAX_EXES", 3)
    root = tmp_path / "root"
    spool = Spool(root)
    host = metrics.HostMetrics(spool)
    for n in range(5):
        feed(root, cores["segv"], f"/opt/metrics/tool{n}", 1)
    for dump_id in spool.ids(Stage.PENDING):
        host.crash(load(spool, dump_id))
        host.crash(load(spool, dump_id))  # a retry counts nothing
    exes = {key.split("\t")[1] for key in host.snapshot()["coredumps"]}
    assert len(exes) == 4 and "other" in exes
    assert exes - {"other"} < {f"/opt/metrics/tool{n}" for n in range(5)}
    assert sum(host.snapshot()["coredumps"].values()) == 5
    assert metrics.HostMetrics(spool).snapshot()["coredumps"] == host.snapshot()["coredumps"]


def test_listen_setting(tmp_path: Path) -> None:
    parse = config.parse_text
    assert parse("metrics.listen = 127.0.0.1:9200\n", "t")["metrics.listen"] == ("127.0.0.1", 9200)
    assert parse("metrics.listen = [::1]:9113\n", "t")["metrics.listen"] == ("::1", 9113)
    assert parse("metrics.listen =\n", "t")["metrics.listen"] is None
    assert parse("", "t")["metrics.listen"] == ("127.0.0.1", 9113)
    with pytest.raises(ConfigError, match="metrics.listen"):
        parse("metrics.listen = localhost\n", "t")


def test_busy_port_leaves_the_pipeline_running(
    daemon_conf: tuple[Path, Path, str], cores: dict[str, crashes.Crash]
) -> None:
    cfg, root, url = daemon_conf
    with coresnapd(cfg):
        ready(url)
        other = cfg.with_name("other.conf")
        conf(other, root.with_name("root2"), root.with_name("store2"),
             metrics__listen=url.split("/")[2], log__file=str(root.with_name("other.log")))  # fmt: skip
        with coresnapd(other):
            feed(root.with_name("root2"), cores["segv"], SEGV_EXE, 1)
            wait_for(lambda: len(names(root.with_name("root2") / "committed")) == 1,
                     what="committed without metrics")  # fmt: skip
    log = root.with_name("other.log").read_text()
    assert f"metrics.listen {url.split('/')[2]}: Address already in use; no metrics" in log
