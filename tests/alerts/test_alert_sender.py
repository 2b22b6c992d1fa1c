"""The sender in process, on real databases and receivers: attempts, backoff, metrics, and two
senders (two coronerd processes) sharing one outbox without sending a message twice."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Engine, select

from coresnap.store import auth, ingest
from coresnap.store.alerts import sender, targets
from coresnap.store.blobs import open_blobs
from coresnap.store.config import StoreConfig, defaults
from coresnap.store.db.engine import make_engine, upgrade, writing
from coresnap.store.db.models import alert_deliveries, alert_targets
from tests.alerts.alert_receivers import HttpReceiver
from tests.store.coronerd_server import fresh_pg_database
from tests.store.store_snapshots import compress, make_snapshot


def _store(tmp_path: Path, url: str, **values: object) -> tuple[Engine, StoreConfig, int]:
    config = defaults()
    config.source = tmp_path / "coronerd.toml"
    config.values.update({"database.url": url, **values})
    engine = make_engine(config.database_url)
    upgrade(engine)
    with writing(engine.connect()) as conn, conn.begin():
        pid = auth.create_project(conn, "sender")
    return engine, config, pid


def _ingest(engine: Engine, config: StoreConfig, pid: int, fingerprint: str) -> None:
    body = compress(make_snapshot(fingerprint=fingerprint))
    ingest.store(engine, open_blobs(config), config, (pid, "sender"), body, {})


def _counted(kind: str, result: str) -> float:
    labels = {"kind": kind, "result": result}
    return REGISTRY.get_sample_value("coronerd_alert_deliveries_total", labels) or 0.0


def test_attempts_backoff_and_metrics(tmp_path: Path) -> None:
    failing = HttpReceiver(status=503).start()
    engine, config, pid = _store(
        tmp_path,
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        **{"alerting.retry_base": 0, "alerting.max_attempts": 3},
    )
    assert sender.backoff(defaults(), 1) == 30 and sender.backoff(defaults(), 4) == 240
    assert sender.backoff(defaults(), 20) == 3600  # capped by alerting.retry_max
    try:
        with writing(engine.connect()) as conn, conn.begin():
            targets.create(
                conn, pid, {"name": "down", "kind": "webhook", "settings": {"url": failing.url}}
            )
        before = {r: _counted("webhook", r) for r in ("sent", "retry", "failed")}
        _ingest(engine, config, pid, "ab" * 32)
        s = sender.Sender(engine, config)
        while s.run_once(wait_done=True):
            pass
        s.stop()
        with engine.connect() as conn:
            (row,) = conn.execute(select(alert_deliveries)).all()
        assert (row.state, row.attempts) == ("failed", 3)
        assert row.last_error.startswith("webhook: HTTP 503")
        assert len(failing.requests) == 3
        after = {r: _counted("webhook", r) for r in ("sent", "retry", "failed")}
        assert {r: after[r] - before[r] for r in after} == {"sent": 0, "retry": 2, "failed": 1}
    finally:
        failing.stop()
        engine.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_pg_database() as url:
        yield url


def test_two_senders_share_one_outbox_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    hook = HttpReceiver().start()
    engine, config, pid = _store(tmp_path, pg_url)
    try:
        with writing(engine.connect()) as conn, conn.begin():
            targets.create(
                conn, pid, {"name": "a", "kind": "webhook", "settings": {"url": hook.url}}
            )
            spec = {"name": "b", "kind": "webhook", "settings": {"url": hook.url + "/b"}}
            targets.create(conn, pid, spec)
        for i in range(30):
            _ingest(engine, config, pid, f"{i:02x}" * 32)
        sent_before = _counted("webhook", "sent")
        senders = [sender.Sender(make_engine(pg_url), config) for _ in range(2)]
        done = [0, 0]
        together = threading.Barrier(2)

        def drain(i: int) -> None:
            together.wait()
            while n := senders[i].run_once(wait_done=True):
                done[i] += n

        threads = [threading.Thread(target=drain, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        ids = [r.headers["X-Coresnap-Delivery"] for r in hook.requests]
        assert len(ids) == 60 and len(set(ids)) == 60  # every message once
        assert sum(done) == 60 and all(done), done  # both senders took part
        assert _counted("webhook", "sent") - sent_before == 60
        for s in senders:
            s.stop()
            s.engine.dispose()
    finally:
        hook.stop()
        engine.dispose()


def test_prune_keeps_pending_and_recent_rows(tmp_path: Path) -> None:
    engine, config, pid = _store(
        tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", **{"alerting.keep_days": 30}
    )
    now = 2_000_000_000.0
    day = 86400.0
    with writing(engine.connect()) as conn, conn.begin():
        targets.create(
            conn, pid, {"name": "hook", "kind": "webhook", "settings": {"url": "http://x"}}
        )
        tid = conn.execute(select(alert_targets.c.id)).scalar_one()
        rows = [
            ("sent", now - 31 * day),  # pruned
            ("failed", now - 40 * day),  # pruned
            ("sent", now - 29 * day),  # recent: kept
            ("pending", now - 90 * day),  # never pruned: still to deliver
        ]
        for state, created in rows:
            conn.execute(
                alert_deliveries.insert().values(
                    target_id=tid,
                    group_id=None,
                    event="new-group",
                    payload="{}",
                    state=state,
                    attempts=1,
                    next_attempt=created,
                    created=created,
                )  # fmt: skip
            )
    s = sender.Sender(engine, config)
    assert s.prune(now) == 2
    with engine.connect() as conn:
        left = sorted((r.state, r.created) for r in conn.execute(select(alert_deliveries)).all())
    assert left == sorted(rows[2:])
    config.values["alerting.keep_days"] = 0
    assert s.prune(now + 365 * day) == 0  # 0 keeps the history forever
    engine.dispose()
