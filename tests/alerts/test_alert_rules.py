"""Which objects make a message: thresholds, filters, min_interval, muted groups."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import update

from coresnap.store import auth
from coresnap.store.db.engine import make_engine, writing
from coresnap.store.db.models import alert_targets
from tests.alerts.alert_receivers import HttpReceiver
from tests.alerts.alert_store import add_target, admin_project, put, set_state, settle
from tests.store.coronerd_server import Server
from tests.store.store_snapshots import compress, group_key, make_snapshot

FP = [f"{i:02x}" * 32 for i in range(1, 8)]  # bugs (make_snapshot seeds)
# Messages name a group by coronerd's key (its fingerprint of the bug's snapshots).
SEED = {group_key(fingerprint=s): s for s in [*FP, *(f[::-1] for f in FP)]}


@pytest.fixture
def hook() -> Iterator[HttpReceiver]:
    r = HttpReceiver().start()
    try:
        yield r
    finally:
        r.stop()


def events(r: HttpReceiver, pause: float = 1.5) -> list[tuple[str, str]]:
    """(event, bug) of every message, after a pause in which no more may arrive."""
    time.sleep(pause)
    return [(q.json()["event"], SEED[q.json()["group"]["fingerprint"]]) for q in r.requests]


def test_threshold_fires_once_per_period_per_group(alerting: Server, hook: HttpReceiver) -> None:
    p, admin = admin_project(alerting)
    spec = {"url": hook.url}
    add_target(
        alerting,
        p,
        admin,
        name="storm",
        kind="webhook",
        settings=spec,
        events=["threshold"],
        threshold=3,
        threshold_period="1h",
    )
    put(alerting, p, fingerprint=FP[0])
    put(alerting, p, fingerprint=FP[0])
    put(alerting, p, fingerprint=FP[1])
    settle(alerting, p)
    assert events(hook) == []  # 2 and 1 occurrences: under the threshold
    put(alerting, p, fingerprint=FP[0])
    settle(alerting, p)
    assert events(hook) == [("threshold", FP[0])]
    body = hook.requests[0].json()
    assert body["threshold"] == {"count": 3, "period": 3600.0} and body["group"]["count"] == 3
    for _ in range(3):  # the same period: no second message
        put(alerting, p, fingerprint=FP[0])
    put(alerting, p, fingerprint=FP[1])
    settle(alerting, p)
    assert events(hook) == [("threshold", FP[0])]
    put(alerting, p, fingerprint=FP[1])  # B reaches 3 now
    settle(alerting, p)
    assert events(hook) == [("threshold", FP[0]), ("threshold", FP[1])]
    # Occurrences older than the period do not count (crash time decides).
    old = time.time() - 7200
    for _ in range(5):
        put(alerting, p, fingerprint=FP[2], timestamp=old)
    settle(alerting, p)
    assert len(events(hook, 0.5)) == 2


def test_filters_select_the_objects(alerting: Server, hook: HttpReceiver) -> None:
    p, admin = admin_project(alerting)
    add_target(
        alerting,
        p,
        admin,
        name="db-uaf",
        kind="webhook",
        settings={"url": hook.url},
        filter=["hostname=db1", "classification,contains,use-after"],
    )
    add_target(
        alerting,
        p,
        admin,
        name="new-versions",
        kind="webhook",
        settings={"url": hook.url + "/versions"},
        filter=[{"attribute": "version", "op": "at-least", "value": "2"}],
    )
    put(alerting, p, fingerprint=FP[0], hostname="web1")  # wrong host
    put(alerting, p, fingerprint=FP[1], hostname="db1", labels=("null-deref",))  # wrong label
    put(alerting, p, fingerprint=FP[2], hostname="db1")  # both: use-after-free on db1
    put(alerting, p, fingerprint=FP[3], hostname="web1", version="1.9")
    put(alerting, p, fingerprint=FP[4], hostname="web1", version="2.1")
    settle(alerting, p)
    got = sorted((q.path, SEED[q.json()["group"]["fingerprint"]]) for q in hook.requests)
    time.sleep(1)
    assert len(hook.requests) == 2
    assert got == [("/", FP[2]), ("/versions", FP[4])]


def test_min_interval_between_messages_of_a_group(alerting: Server, hook: HttpReceiver) -> None:
    p, admin = admin_project(alerting)
    add_target(
        alerting,
        p,
        admin,
        name="calm",
        kind="webhook",
        settings={"url": hook.url + "/calm"},
        min_interval="1h",
    )
    add_target(alerting, p, admin, name="eager", kind="webhook", settings={"url": hook.url + "/e"})
    put(alerting, p, fingerprint=FP[0], version="1")
    settle(alerting, p)
    for i in range(2):  # resolved, then a regression in a newer version, twice
        set_state(alerting, p, group_key(fingerprint=FP[0]), "resolved")
        put(alerting, p, fingerprint=FP[0], version=str(2 + i))
    settle(alerting, p)
    time.sleep(1)
    calm = [q.json()["event"] for q in hook.requests if q.path == "/calm"]
    eager = [q.json()["event"] for q in hook.requests if q.path == "/e"]
    assert calm == ["new-group"]
    assert eager == ["new-group", "regression", "regression"]


def test_muted_groups_stay_quiet(alerting: Server, hook: HttpReceiver) -> None:
    p, admin = admin_project(alerting)
    add_target(
        alerting,
        p,
        admin,
        name="all",
        kind="webhook",
        settings={"url": hook.url},
        events=["new-group", "threshold"],
        threshold=2,
        threshold_period=600,
    )
    put(alerting, p, fingerprint=FP[5])
    settle(alerting, p)
    set_state(alerting, p, group_key(fingerprint=FP[5]), "muted")
    for _ in range(3):
        put(alerting, p, fingerprint=FP[5])
    settle(alerting, p)
    assert events(hook) == [("new-group", FP[5])]


def test_racing_uploads_of_a_new_group_make_one_message(
    alerting: Server, hook: HttpReceiver
) -> None:
    p, admin = admin_project(alerting)
    add_target(alerting, p, admin, name="once", kind="webhook", settings={"url": hook.url})
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: put(alerting, p, fingerprint=FP[6]), range(16)))
    rows = settle(alerting, p)
    assert [(r["event"], r["state"]) for r in rows] == [("new-group", "sent")]
    assert events(hook) == [("new-group", FP[6])]


def test_a_stored_filter_gone_bad_never_fails_ingest(alerting: Server, hook: HttpReceiver) -> None:
    p, admin = admin_project(alerting)
    add_target(alerting, p, admin, name="bad", kind="webhook", settings={"url": hook.url + "/x"})
    add_target(alerting, p, admin, name="good", kind="webhook", settings={"url": hook.url})
    engine = make_engine(alerting.database_url)  # as if the query language had changed since
    try:
        with writing(engine.connect()) as conn, conn.begin():
            bad = json.dumps([{"attribute": "hostname", "op": "sounds-like", "value": "db"}])
            mine = (alert_targets.c.name == "bad") & (
                alert_targets.c.project_id == auth.project_id(conn, p.name)
            )
            conn.execute(update(alert_targets).where(mine).values(filter=bad))
    finally:
        engine.dispose()
    put(alerting, p, fingerprint=FP[6][::-1])
    settle(alerting, p)
    assert [q.path for q in hook.requests] == ["/"]
    assert "target 'bad' has a bad filter" in alerting.log()


def test_a_retried_upload_alerts_once(alerting: Server, hook: HttpReceiver) -> None:
    p, admin = admin_project(alerting)
    add_target(alerting, p, admin, name="once", kind="webhook", settings={"url": hook.url})
    oid = "9f" * 16
    put(alerting, p, fingerprint=FP[3][::-1], oid=oid)
    url = f"{alerting.url}/api/v1/projects/{p.name}/objects"
    again = httpx.post(
        url, content=compress(make_snapshot(fingerprint=FP[3][::-1], oid=oid)), headers=p.headers()
    )
    assert again.status_code == 200  # the stored object: nothing new happened
    settle(alerting, p)
    assert events(hook) == [("new-group", FP[3][::-1])]
