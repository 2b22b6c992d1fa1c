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

from sqlalchemy import Engine, func, select

from coresnap.cli.coroner import parse_filter
from coresnap.errors import QueryError
from coresnap.store import aggregate, ingest
from coresnap.store.blobs import BlobStore
from coresnap.store.db.models import (
    attributes,
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
    """One page of groups: window counts, histogram, labels, host count, the group row."""
    q = Query(
        filters=v.filters,
        age=v.seconds,
        factor="fingerprint",
        aggregates=[
            Aggregate("histogram"),
            Aggregate("distribution", "classification", 4),
            Aggregate("unique", "hostname"),
        ],
        sort=SORTS[v.sort],
        limit=PAGE,
        offset=v.page * PAGE,
        buckets=40,
    )
    return aggregate.run(engine, pid, q)


def breakdowns(engine: Engine, pid: int, filters: list[Filter], age: float | None) -> dict:
    """Top values of BREAKDOWNS over the filtered objects: {attr: {values, distinct, total}}."""
    out: dict[str, Any] = {}
    for name in BREAKDOWNS[:3]:
        q = Query(filters=filters, age=age, factor=name, sort="-count", limit=6)
        r = aggregate.run(engine, pid, q)
        values = [[row["factor"], row["count"]] for row in r["rows"]]
        out[name] = {"values": values, "distinct": r["factors"], "total": r["total"]}
    out["classification"] = _labels(engine, pid, filters, age, out["application"]["total"])
    return out


def _labels(
    engine: Engine, pid: int, filters: list[Filter], age: float | None, total: int
) -> dict[str, Any]:
    # One attributes row per classification label: an object with two labels counts in both.
    cond = where(pid, Query(filters=filters, age=age), time.time())
    stmt = (
        select(attributes.c.value_text, func.count().label("n"))
        .select_from(objects)
        .join(groups, groups.c.id == objects.c.group_id)
        .join(attributes, attributes.c.object_id == objects.c.id)
        .where(cond, attributes.c.key == "classification")
        .group_by(attributes.c.value_text)
        .order_by(func.count().desc(), attributes.c.value_text)
        .limit(8)
    )
    with engine.connect() as conn:
        values = [[value, n] for value, n in conn.execute(stmt)]
    return {"values": values, "distinct": len(values), "total": total}


def group_objects(engine: Engine, gid: int, page: int) -> tuple[list[dict[str, Any]], int]:
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
        .where(objects.c.group_id == gid)
        .order_by(objects.c.timestamp.desc(), objects.c.id.desc())
        .limit(PAGE)
        .offset(page * PAGE)
    )
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(stmt).mappings()]
        n = conn.execute(select(func.count()).where(objects.c.group_id == gid)).scalar() or 0
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


def representative(engine: Engine, gid: int) -> str | None:
    """The blob key of the group's newest object whose snapshot was kept."""
    stmt = (
        select(objects.c.blob_key)
        .where(objects.c.group_id == gid, objects.c.blob_kept)
        .order_by(objects.c.timestamp.desc())
        .limit(1)
    )
    with engine.connect() as conn:
        key = conn.execute(stmt).scalar()
    return None if key is None else str(key)


def snapshot(blobs: BlobStore, key: str | None, limit: int) -> dict[str, Any] | None:
    """The decoded snapshot stored under ``key`` (None when absent)."""
    data = None if key is None else blobs.get(key)
    return None if data is None else ingest.decode(data, limit)
