"""Which alert targets one ingested object triggers: one outbox row each, in the ingest transaction.

Called by ``ingest._index`` after the object and its attributes are inserted, with the group row
still locked (``grouping.observe``), so the per-group checks below (threshold once per period,
min_interval) are serialized per group even across coronerd processes. Nothing here talks to a
receiver: the sender thread (``sender.py``) delivers the rows after the transaction commits.

Per enabled target of the project, in order:
1. the events of this object: ``new-group`` (its group was created by it), ``regression`` (a
   resolved group reopened by it), ``threshold`` (its group reached ``threshold`` occurrences
   within ``threshold_period`` seconds of crash time, and the target has no threshold message
   for the group in that period); muted groups trigger nothing;
2. the target's filter, evaluated in SQL on the just-inserted object (the query language);
3. ``min_interval``: no message if the target has one for this group younger than that;
4. one row per target and object: the first of its events in the order new-group, regression,
   threshold.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Protocol

from sqlalchemy import Connection, and_, func, insert, select

from coresnap.errors import QueryError
from coresnap.store.alerts.targets import spec_of
from coresnap.store.config import StoreConfig
from coresnap.store.db.models import alert_deliveries, alert_targets, groups, objects, projects
from coresnap.store.grouping import Observation
from coresnap.store.query import Filter, condition

log = logging.getLogger("coronerd")


class Ingested(Protocol):
    """What outbox needs of an ingested object (``ingest.Parsed`` is one)."""

    oid: str
    timestamp: float
    fingerprint: str
    frames: list[str]
    labels: list[str]
    attributes: dict[str, str | int | float]


def console_url(config: StoreConfig) -> str:
    """The console's base URL: ``console.url``, or the address coronerd serves on."""
    url = str(config["console.url"]).rstrip("/")
    return url or f"http://{config['server.host']}:{config['server.port']}"


def enqueue(
    conn: Connection,
    config: StoreConfig,
    project_id: int,
    object_id: int,
    seen: Observation,
    obj: Ingested,
) -> int:
    """Insert the outbox rows ``obj`` (row ``object_id``) triggers; returns how many."""
    q = select(alert_targets).where(
        alert_targets.c.project_id == project_id, alert_targets.c.enabled.is_(True)
    )
    targets = conn.execute(q).all()
    if not targets:
        return 0
    group = conn.execute(select(groups).where(groups.c.id == seen.group_id)).mappings().one()
    if group["state"] == "muted":
        return 0
    now = time.time()
    events = [e for e, on in (("new-group", seen.created), ("regression", seen.reopened)) if on]
    payload: dict[str, Any] | None = None
    rows = []
    for row in targets:
        spec = spec_of(row)
        fire = [e for e in events if e in spec.events]
        if "threshold" in spec.events and _over_threshold(
            conn, row, project_id, seen.group_id, now
        ):
            fire.append("threshold")
        if not fire or not _matches(conn, object_id, spec.filter, row.name):
            continue
        if spec.min_interval and _sent_since(conn, row.id, seen.group_id, now - spec.min_interval):
            continue
        if payload is None:
            payload = _payload(conn, config, project_id, group, obj)
        message = {"event": fire[0], **payload}
        if fire[0] == "threshold":
            message["threshold"] = {"count": row.threshold_count, "period": row.threshold_period}
        rows.append(
            dict(
                target_id=row.id,
                group_id=seen.group_id,
                event=fire[0],
                payload=json.dumps(message, sort_keys=True),
                state="pending",
                attempts=0,
                next_attempt=now,
                created=now,
            )
        )
    if rows:
        conn.execute(insert(alert_deliveries), rows)
    return len(rows)


def _over_threshold(
    conn: Connection, target: Any, project_id: int, group_id: int, now: float
) -> bool:
    period = target.threshold_period
    if not target.threshold_count or not period:
        return False
    already = select(alert_deliveries.c.id).where(
        alert_deliveries.c.target_id == target.id,
        alert_deliveries.c.group_id == group_id,
        alert_deliveries.c.event == "threshold",
        alert_deliveries.c.created >= now - period,
    )
    if conn.execute(already.limit(1)).first() is not None:
        return False
    n = conn.execute(
        select(func.count())
        .select_from(objects)
        .where(  # the (project, group, timestamp) index answers this
            objects.c.project_id == project_id,
            objects.c.group_id == group_id,
            objects.c.timestamp >= now - period,
        )
    ).scalar_one()
    return int(n) >= int(target.threshold_count)


def _matches(conn: Connection, object_id: int, filters: list[dict[str, Any]], name: str) -> bool:
    if not filters:
        return True
    try:  # checked when the target was saved; a stored filter is never allowed to fail ingest
        conds = [condition(Filter(f["attribute"], f["op"], f.get("value"))) for f in filters]
    except (QueryError, KeyError, TypeError) as e:
        log.warning("alerts: target %r has a bad filter, skipped: %s", name, e)
        return False
    q = (
        select(objects.c.id)
        .join(groups, groups.c.id == objects.c.group_id)
        .where(and_(objects.c.id == object_id, *conds))
    )
    return conn.execute(q).first() is not None


def _sent_since(conn: Connection, target_id: int, group_id: int, since: float) -> bool:
    q = select(alert_deliveries.c.id).where(
        alert_deliveries.c.target_id == target_id,
        alert_deliveries.c.group_id == group_id,
        alert_deliveries.c.created >= since,
    )
    return conn.execute(q.limit(1)).first() is not None


def _payload(
    conn: Connection, config: StoreConfig, project_id: int, group: Any, obj: Ingested
) -> dict[str, Any]:
    project = conn.execute(select(projects.c.name).where(projects.c.id == project_id)).scalar_one()
    fingerprint = group["fingerprint"]
    attrs = obj.attributes
    return {
        "project": project,
        "group": {
            "fingerprint": fingerprint,
            "count": group["count"],
            "first_seen": group["first_seen"],
            "last_seen": group["last_seen"],
            "state": group["state"],
            "frames": obj.frames,
            "url": f"{console_url(config)}/p/{project}/g/{fingerprint}",
        },
        "object": {
            "id": obj.oid,
            "timestamp": obj.timestamp,
            "fingerprint": obj.fingerprint,
            "application": attrs.get("application"),
            "hostname": attrs.get("hostname"),
            "version": attrs.get("version"),
            "classification": obj.labels,
            "url": f"{console_url(config)}/p/{project}/o/{obj.oid}",
        },
        "attributes": attrs,
    }
