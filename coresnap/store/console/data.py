"""The database reads behind the console pages, through the store's query code.

Every count, histogram and breakdown is computed in SQL (``coresnap.store.aggregate``, or a
GROUP BY over ``query.where``): the pages never load objects into Python, so they stay fast
on a project of 100k objects.
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, literal, select, union_all

from coresnap.errors import QueryError
from coresnap.querylang import parse_filter
from coresnap.store import aggregate, ingest
from coresnap.store.alerts import targets
from coresnap.store.blobs import BlobStore
from coresnap.store.db.models import (
    group_events,
    group_tickets,
    groups,
    objects,
)
from coresnap.store.query import Aggregate, Filter, Query, parse_age, where

SORTS = {"last": "-last_seen", "count": "-count", "first": "-first_seen"}
AGES = ("1h", "1d", "7d", "30d", "1y")
BREAKDOWNS = ("application", "hostname", "version", "classification")
PAGE = 50


@dataclass
class View:
    """What the filter bar asked for: filters (the query language), window, sort, page."""

    text: str = ""
    age: str = ""
    sort: str = "last"
    page: int = 0
    filters: list[Filter] = field(default_factory=list)
    seconds: float | None = None


def view(text: str, age: str, sort: str, page: int) -> View:
    """Parse the filter bar: whitespace-separated ``attr=value`` or ``attr,op,value`` terms
    (``coroner list --filter`` syntax; quote a term that holds spaces). Raises QueryError."""
    v = View(text.strip()[:2000], age.strip(), sort if sort in SORTS else "last", max(page, 0))
    try:
        terms = shlex.split(v.text)
    except ValueError as e:
        raise QueryError(f"filter: {e}") from e
    for term in terms[:32]:
        d = parse_filter(term)
        v.filters.append(Filter(d["attribute"], d["op"], d["value"]))
    v.seconds = parse_age(v.age) if v.age else None
    return v


def project_groups(engine: Engine, pid: int, v: View) -> dict[str, Any]:
    """One page of groups: window counts and histogram, labels, host count, the group row."""
    q = Query(
        filters=v.filters,
        age=v.seconds,
        factor="fingerprint",
        aggregates=[Aggregate("histogram")],
        sort=SORTS[v.sort],
        limit=PAGE,
        offset=v.page * PAGE,
        buckets=40,
    )
    result = aggregate.run(engine, pid, q)
    keys = [r["factor"] for r in result["rows"]]
    if keys:
        cond = and_(_where(pid, v.filters, v.seconds), groups.c.fingerprint.in_(keys))
        hosts = select(groups.c.fingerprint, func.count(objects.c.hostname.distinct()))
        newest = select(func.max(objects.c.id)).select_from(_joined()).where(cond)
        labels = select(groups.c.fingerprint, objects.c.classification).select_from(_joined())
        with engine.connect() as conn:
            n_hosts: dict[str, int] = dict(
                conn.execute(
                    hosts.select_from(_joined()).where(cond).group_by(groups.c.fingerprint)
                ).all()
            )
            newest_ids = newest.group_by(groups.c.fingerprint).scalar_subquery()
            chips = dict(conn.execute(labels.where(objects.c.id.in_(newest_ids))).all())
        for r in result["rows"]:
            r["hosts"] = n_hosts.get(r["factor"], 0)
            r["labels"] = (chips.get(r["factor"]) or "").split()
    return result


VOLUME_BUCKETS = 60


def project_volume(
    engine: Engine, pid: int, v: View, now: float | None = None
) -> tuple[list[int], tuple[float, float]] | None:
    """The project's crashes matching ``v`` per time bucket of the chosen window (the age
    selector's, else from the first to the last match), and the window; None without one."""
    now = time.time() if now is None else now
    base = (
        select(objects.c.id, objects.c.timestamp, literal(0).label("factor"))
        .select_from(_joined())
        .where(_where(pid, v.filters, v.seconds))
        .subquery("base")
    )
    with engine.connect() as conn:
        if v.seconds:
            window = (now - v.seconds, now)
        else:
            lo, hi = conn.execute(
                select(func.min(base.c.timestamp), func.max(base.c.timestamp))
            ).one()
            if lo is None:
                return None
            window = (float(lo), max(float(hi), float(lo) + 60.0))
        window = aggregate.clamp_window(window, now)
        counts = aggregate.histogram(conn, base, window, VOLUME_BUCKETS)
    return counts.get(0, [0] * VOLUME_BUCKETS), window


def _joined() -> Any:
    return objects.join(groups, groups.c.id == objects.c.group_id)


def _where(pid: int, filters: list[Filter], age: float | None) -> Any:
    return where(pid, Query(filters=filters, age=age), time.time())


def breakdowns(
    engine: Engine,
    pid: int,
    filters: list[Filter],
    age: float | None,
    group_id: int | None = None,
) -> dict[str, Any]:
    """Top values of BREAKDOWNS over the filtered objects (or one group's): {attr: {values,
    distinct, total}}; classification counts each label of the objects' label sets.

    Without a filter, one GROUP BY per attribute, each answered from its (project, attribute)
    index. With one, the filter runs once: the matching objects are a CTE that one statement
    groups four ways (UNION ALL) and ranks (window functions).
    """
    cond = _where(pid, filters, age)
    if group_id is not None:
        cond = and_(cond, objects.c.group_id == group_id)
    # Filters on the group (fingerprint, state) need the groups row; others only objects.
    source = _joined() if any(f.attribute in ("fingerprint", "state") for f in filters) else objects
    with engine.connect() as conn:
        if filters or age or group_id is not None:
            ranked = _one_pass(conn, source, cond)
        else:
            ranked = {name: _by_index(conn, cond, name) for name in BREAKDOWNS}
    out: dict[str, Any] = {}
    for name, rows in ranked.items():
        if name == "classification":
            values, distinct, total = _labels(rows)
        else:
            values = [[value, count] for value, count, _, _ in rows[:6]]
            distinct, total = (int(rows[0][2]), int(rows[0][3])) if rows else (0, 0)
        out[name] = {"values": values, "distinct": distinct, "total": total}
    return out


def _limit(name: str) -> int:
    # Label sets are few and each counts towards several labels: keep them all (bounded).
    return 500 if name == "classification" else 6


def _by_index(conn: Connection, cond: Any, name: str) -> list[Any]:
    """(value, count, distinct values, total) rows of one attribute, most frequent first."""
    col, n = objects.c[name], func.count()
    stmt = (
        select(col, n, func.count().over(), func.sum(n).over())
        .where(cond)
        .group_by(col)
        .order_by(n.desc(), col)
        .limit(_limit(name))
    )
    return list(conn.execute(stmt).all())


def _one_pass(conn: Connection, source: Any, cond: Any) -> dict[str, list[Any]]:
    """The rows of :func:`_by_index` for every attribute, the filter evaluated once."""
    matching = select(*(objects.c[n] for n in BREAKDOWNS)).select_from(source).where(cond)
    m = matching.cte("matching")
    parts = [
        select(literal(n).label("attr"), m.c[n].label("value"), func.count().label("n")).group_by(
            m.c[n]
        )
        for n in BREAKDOWNS
    ]
    u = union_all(*parts).subquery("u")
    attr = u.c.attr
    rank = func.row_number().over(partition_by=attr, order_by=(u.c.n.desc(), u.c.value))
    r = select(
        u.c.attr,
        u.c.value,
        u.c.n,
        func.count().over(partition_by=attr).label("distinct"),
        func.sum(u.c.n).over(partition_by=attr).label("total"),
        rank.label("rank"),
    ).subquery("r")
    keep = (r.c.rank <= 6) | ((r.c.attr == "classification") & (r.c.rank <= 500))
    out: dict[str, list[Any]] = {name: [] for name in BREAKDOWNS}
    for name, value, n, distinct, total, _ in conn.execute(
        select(r).where(keep).order_by(r.c.attr, r.c.rank)
    ):
        out[name].append((value, n, distinct, total))
    return out


def _labels(rows: list[Any]) -> tuple[list[list[Any]], int, int]:
    # Objects store their labels as one space-separated set ("null-deref memory.read"), so the
    # database counts each set; an object with two labels counts once under each.
    per: dict[str, int] = {}
    total = 0
    for labels, count, _, _ in rows:
        total += count
        for label in (labels or "").split() or [None]:
            per[label] = per.get(label, 0) + count
    top = sorted(per.items(), key=lambda kv: (-kv[1], str(kv[0])))
    return [[k, v] for k, v in top[:8]], len(per), total


def group_histogram(
    engine: Engine, pid: int, gid: int, window: tuple[float, float], buckets: int
) -> list[int]:
    """Occurrences of group ``gid`` per time bucket of ``window`` (the store's histogram)."""
    base = (
        select(objects.c.id, objects.c.timestamp, objects.c.group_id.label("factor"))
        .where(objects.c.project_id == pid, objects.c.group_id == gid)
        .subquery("base")
    )
    with engine.connect() as conn:
        counts = aggregate.histogram(conn, base, window, buckets)
    return counts.get(gid, [0] * buckets)


def group_objects(
    engine: Engine, pid: int, gid: int, page: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of a group's objects, newest first, and how many it has."""
    cols = (
        objects.c.oid,
        objects.c.timestamp,
        objects.c.application,
        objects.c.hostname,
        objects.c.version,
        objects.c.classification,
        objects.c.size,
        objects.c.blob_kept,
    )
    stmt = (
        select(*cols)
        .where(objects.c.project_id == pid, objects.c.group_id == gid)
        .order_by(objects.c.timestamp.desc(), objects.c.id.desc())
        .limit(PAGE)
        .offset(page * PAGE)
    )
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(stmt).mappings()]
        mine = (objects.c.project_id == pid) & (objects.c.group_id == gid)
        n = conn.execute(select(func.count()).where(mine)).scalar() or 0
    return rows, int(n)


def history(engine: Engine, gid: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(state changes newest first, the group's tickets)."""
    with engine.connect() as conn:
        events = conn.execute(
            select(group_events)
            .where(group_events.c.group_id == gid)
            .order_by(group_events.c.at.desc(), group_events.c.id.desc())
            .limit(100)
        ).mappings()
        ev = [dict(e) for e in events]
        tickets = conn.execute(select(group_tickets).where(group_tickets.c.group_id == gid))
        return ev, [dict(t) for t in tickets.mappings()]


def representative(engine: Engine, pid: int, gid: int) -> str | None:
    """The blob key of the group's newest object whose snapshot was kept."""
    stmt = (
        select(objects.c.blob_key)
        .where(objects.c.project_id == pid, objects.c.group_id == gid, objects.c.blob_kept)
        .order_by(objects.c.timestamp.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        key = conn.execute(stmt).scalar()
    return None if key is None else str(key)


def snapshot(blobs: BlobStore, key: str | None, limit: int) -> dict[str, Any] | None:
    """The decoded snapshot stored under ``key`` (None when absent); not checked against the
    schema again (ingest did, before storing it)."""
    data = None if key is None else blobs.get(key)
    return None if data is None else ingest.decode(data, limit, check=False)


def delivery_problems(engine: Engine, pid: int, limit: int = 10) -> list[dict[str, Any]]:
    """The project's alert messages that failed for good or are being retried, newest first."""
    with engine.connect() as conn:
        rows = targets.deliveries(conn, pid, limit=limit, troubled=True)
    for r in rows:
        r["shown_state"] = delivery_state(r)
    return rows


def delivery_state(row: dict[str, Any]) -> str:
    """What a delivery is, as the console says it: a claimed row counts its attempt before it
    is made, so a pending row with attempts is under way (sending) until an attempt fails
    (retrying, with its error)."""
    if row["state"] == "pending" and row["attempts"] > 0:
        return "retrying" if row["last_error"] else "sending"
    return str(row["state"])
