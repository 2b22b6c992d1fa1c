"""Delivery never blocks ingest, survives receivers that are down or hang and coronerd restarts."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.alerts.alert_receivers import HttpReceiver
from tests.alerts.alert_store import (
    ALERTING,
    add_target,
    admin_project,
    delete_target,
    deliveries,
    put,
    settle,
)
from tests.store.coronerd_server import Server, fresh_pg_database, make_server
from tests.store.store_snapshots import group_key

FP = [f"{i:02x}" * 32 for i in range(10, 60)]


@pytest.fixture(params=["sqlite", "postgresql"])
def own_alerting(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    """A coronerd of the test's own (it restarts it), over each database."""
    with fresh_pg_database() if request.param == "postgresql" else _nothing() as pg:
        server = make_server(request.param, tmp_path / "coronerd", pg, **ALERTING)
        server.start()
        try:
            yield server
        finally:
            server.kill()


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def test_receiver_down_is_retried_across_a_restart(own_alerting: Server) -> None:
    server = own_alerting
    down = HttpReceiver()  # made, not started: connections are refused
    p, admin = admin_project(server)
    add_target(server, p, admin, name="hook", kind="webhook", settings={"url": down.url})
    put(server, p, fingerprint=FP[0])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        (row,) = deliveries(server, p)
        # Killed while an attempt is in flight (claimed: its attempt counted, its next attempt a
        # lease of minutes ahead), the row would wait out that lease after the restart, by
        # design (at least once). So kill between two attempts: the second one's failure
        # recorded, the third not yet claimed (a backoff of at most 2 s).
        ahead = row["next_attempt"] - time.time()
        if row["attempts"] >= 2 and row["last_error"] and 0.5 < ahead < 30:
            break
        time.sleep(0.1)
    assert row["state"] == "pending" and row["attempts"] >= 2, row
    assert "ConnectError" in row["last_error"]
    server.kill()  # pending rows are in the database, not in the process
    server.start(server.port)
    down.start()
    try:
        (got,) = down.wait(1)
        assert got.json()["group"]["fingerprint"] == group_key(fingerprint=FP[0])
        (row,) = settle(server, p)
        assert row["state"] == "sent" and row["sent_at"] >= got.at - 1
        time.sleep(1.5)
        assert len(down.requests) == 1  # delivered once
    finally:
        down.stop()


def _ingest_times(server: Server, n: int, fps: list[str]) -> list[float]:
    p, _ = admin_project(server)
    return [put(server, p, fingerprint=fp) for fp in fps[:n]]


def test_a_hung_receiver_slows_neither_ingest_nor_other_targets(alerting: Server) -> None:
    hung = HttpReceiver(delay=10).start()  # answers after 10 s; coronerd gives up after 3 s
    fast = HttpReceiver().start()
    baseline = _ingest_times(alerting, 20, FP[:20])
    p, admin = admin_project(alerting)
    hooks = {"hook-1": hung.url, "hook-2": hung.url, "fast": fast.url}
    try:
        for name, url in hooks.items():
            add_target(alerting, p, admin, name=name, kind="webhook", settings={"url": url})
        started = time.monotonic()
        times = [put(alerting, p, fingerprint=fp) for fp in FP[20:40]]
        total = time.monotonic() - started
        fast.wait(20, timeout=15)  # the fast receiver's 20 messages do not queue behind the hung
        fast_done = max(r.at for r in fast.requests) - (time.time() - time.monotonic() + started)
        hung.wait(1)
        print(
            f"\n[{alerting.kind}] 20 ingests: no targets median {statistics.median(baseline):.4f}s"
            f" max {max(baseline):.4f}s; with 2 targets on a receiver hanging 10 s and 1 fast: "
            f"median {statistics.median(times):.4f}s max {max(times):.4f}s total {total:.2f}s; "
            f"fast target's 20 messages all received {fast_done:.2f}s after the first upload"
        )
        # Waiting on a delivery would cost an upload 3 s (the timeout): none comes close.
        assert total < 10.0 and max(times) < 2.5
        assert statistics.median(times) < statistics.median(baseline) * 3 + 0.05
        rows = deliveries(alerting, p, limit=100)
        assert len(rows) == 60 and all(r["event"] == "new-group" for r in rows)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            rows = deliveries(alerting, p, limit=100)
            if any("ReadTimeout" in (r["last_error"] or "") for r in rows):
                break
            time.sleep(0.2)
        assert any("ReadTimeout" in (r["last_error"] or "") for r in rows)
    finally:
        for name in hooks:  # the session's coronerd: leave it no retries
            delete_target(alerting, p, admin, name)
        hung.stop()
        fast.stop()
