"""Runs a :class:`~coresnap.store.query.Query`: factor buckets, their aggregates, their objects.

Two steps, both in SQL. First the page of factor buckets (count, first/last seen, sorted, with
LIMIT/OFFSET) over the filtered objects. Then, restricted to that page's factor values, one
statement per aggregate: histograms bucket timestamps arithmetically, distributions and
head/tail/objects rank rows with window functions (``row_number() OVER (PARTITION BY factor)``).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    Select,
    case,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.sql.expression import ColumnElement

from coresnap.errors import QueryError
from coresnap.store.db.models import attributes, groups, objects
from coresnap.store.query import (
    NUMERIC_COLUMNS,
    TEXT_COLUMNS,
    Aggregate,
    Query,
    check_name,
    where,
)

_SORTS = {"count", "first_seen", "last_seen", "factor"}
_DEFAULT_WINDOW = 30 * 86400
_CENTURY = 100 * 365 * 86400.0


def attribute(name: str, numeric: bool = False) -> ColumnElement[Any]:
    """One value of attribute ``name`` per object: its column, or a correlated subquery."""
    check_name(name)
    if name in NUMERIC_COLUMNS:
        return NUMERIC_COLUMNS[name]
    if name in TEXT_COLUMNS:
        return TEXT_COLUMNS[name]
    if name == "classification":
        return objects.c.classification
    value = attributes.c.value_num if numeric else attributes.c.value_text
    sub = select(func.min(value)).where(
        attributes.c.object_id == objects.c.id, attributes.c.key == name
    )
    return sub.scalar_subquery()


def _base(project_id: int, q: Query, now: float) -> Any:
    factor = attribute(q.factor).label("factor")
    stmt = (
        select(objects.c.id, objects.c.timestamp, factor)
        .join(groups, groups.c.id == objects.c.group_id)
        .where(where(project_id, q, now))
    )
    return stmt.subquery("base")


def _page(conn: Connection, base: Any, q: Query) -> list[dict[str, Any]]:
    desc = q.sort.startswith("-")
    key = q.sort.lstrip("-")
    if key not in _SORTS:
        raise QueryError(f"sort must be one of {', '.join(sorted(_SORTS))} (- for descending)")
    cols = {
        "count": func.count().label("count"),
        "first_seen": func.min(base.c.timestamp).label("first_seen"),
        "last_seen": func.max(base.c.timestamp).label("last_seen"),
    }
    order = base.c.factor if key == "factor" else cols[key]
    stmt = (
        select(base.c.factor, *cols.values())
        .group_by(base.c.factor)
        .order_by(order.desc() if desc else order.asc(), base.c.factor)
        .limit(q.limit)
        .offset(q.offset)
    )
    return [dict(r) for r in conn.execute(stmt).mappings()]


def run(engine: Engine, project_id: int, q: Query) -> dict[str, Any]:
    """The answer to ``q`` on a project: totals, window and the page of factor buckets.

    Raises QueryError for an invalid part (attribute, operator, regex, sort, aggregate).
    """
    now = time.time()
    if not 1 <= q.limit <= 1000 or q.offset < 0 or not 0 <= q.objects <= 100:
        raise QueryError("limit must be 1..1000, offset >= 0, objects 0..100")
    base = _base(project_id, q, now)
    with engine.connect() as conn:
        total, factors, lo, hi = conn.execute(
            select(
                func.count(),
                func.count(base.c.factor.distinct()),
                func.min(base.c.timestamp),
                func.max(base.c.timestamp),
            )
        ).one()
        start = now - q.age if q.age else min(lo or now, now - _DEFAULT_WINDOW)
        window = clamp_window((start, max(now, hi or now)), now)
        rows = _page(conn, base, q)
        keys = [r["factor"] for r in rows]
        scoped = select(base).where(_in(base.c.factor, keys)).subquery("scoped")
        for agg in q.aggregates:
            _aggregate(conn, scoped, agg, rows, window, q.buckets)
        if q.objects:
            _objects(conn, scoped, rows, q.objects)
        if q.factor == "fingerprint":
            _groups(conn, project_id, rows)
    return {"total": total, "factors": factors, "window": list(window), "rows": rows}


def _in(col: Any, keys: list[Any]) -> ColumnElement[bool]:
    present = [k for k in keys if k is not None]
    cond = col.in_(present) if present else literal(False)
    return (cond | col.is_(None)) if None in keys else cond


def _row_of(rows: list[dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    return {r["factor"]: r for r in rows}


def _aggregate(
    conn: Connection,
    base: Any,
    agg: Aggregate,
    rows: list[dict[str, Any]],
    window: tuple[float, float],
    buckets: int,
) -> None:
    by = _row_of(rows)
    name = agg.op if agg.attribute is None else f"{agg.op}({agg.attribute})"
    for r in rows:
        r.setdefault("aggregates", {})
    if agg.op == "count":
        for r in rows:
            r["aggregates"]["count"] = r["count"]
        return
    if agg.op == "histogram":
        for factor, counts in histogram(conn, base, window, buckets).items():
            by[factor]["aggregates"]["histogram"] = counts
        for r in rows:
            r["aggregates"].setdefault("histogram", [0] * buckets)
        return
    if agg.attribute is None:
        raise QueryError(f"aggregate {agg.op} needs an attribute")
    if agg.op in ("unique", "range"):
        value = attribute(
            agg.attribute, numeric=agg.op == "range" and agg.attribute not in TEXT_COLUMNS
        )
        outs = (
            [func.count(value.distinct())]
            if agg.op == "unique"
            else [func.min(value), func.max(value)]
        )
        stmt = (
            select(base.c.factor, *outs)
            .select_from(base.join(objects, objects.c.id == base.c.id))
            .join(groups, groups.c.id == objects.c.group_id)
            .group_by(base.c.factor)
        )
        for factor, *vals in conn.execute(stmt):
            by[factor]["aggregates"][name] = vals[0] if agg.op == "unique" else vals
    elif agg.op == "distribution":
        for factor, dist in _distribution(conn, base, agg.attribute, agg.limit).items():
            by[factor]["aggregates"][name] = dist
    elif agg.op in ("head", "tail"):
        for factor, value in _head_tail(conn, base, agg.attribute, agg.op == "head").items():
            by[factor]["aggregates"][name] = value
    else:
        raise QueryError(f"unknown aggregate {agg.op!r}")


def histogram(
    conn: Connection, base: Any, window: tuple[float, float], buckets: int
) -> dict[Any, list[int]]:
    """Counts of ``base`` rows (columns factor, timestamp) per factor and time bucket."""
    if not 1 <= buckets <= 500:
        raise QueryError("histogram buckets must be 1..500")
    start, end = clamp_window(window)
    ts = base.c.timestamp
    scaled = (ts - start) * buckets / max(end - start, 1e-9)
    # PostgreSQL's CAST rounds; floor() makes both databases truncate towards -inf.
    raw = func.floor(scaled) if conn.dialect.name == "postgresql" else scaled
    # Compared before any arithmetic: a stored 1e308 minus the start overflows PostgreSQL's
    # float (an error) and SQLite's (NULL); in the window the arithmetic stays small.
    bucket = case((ts < start, 0), (ts >= end, buckets - 1), else_=cast(raw, Integer)).label(
        "bucket"
    )
    stmt = select(base.c.factor, bucket, func.count()).group_by(base.c.factor, bucket)
    out: dict[Any, list[int]] = {}
    for factor, b, n in conn.execute(stmt):
        out.setdefault(factor, [0] * buckets)[min(max(int(b or 0), 0), buckets - 1)] += n
    return out


def clamp_window(window: tuple[float, float], now: float | None = None) -> tuple[float, float]:
    """``window`` cut to what a histogram can show: from 1970 to a century past ``now`` (a
    database may hold any float as a timestamp: an older coronerd kept what snapshots said)."""
    now = time.time() if now is None else now
    lo, hi = 0.0, now + _CENTURY
    start = min(max(window[0], lo), hi) if window[0] == window[0] else lo
    end = min(max(window[1], start), hi) if window[1] == window[1] else hi
    return start, max(end, start + 1.0)


def _values(base: Any, name: str) -> tuple[Select[Any], Any]:
    """(statement over base rows with one row per value, the value column)."""
    check_name(name)
    if name in NUMERIC_COLUMNS or name in TEXT_COLUMNS:
        value = attribute(name).label("value")
        stmt = select(base.c.factor, base.c.timestamp, base.c.id, value).select_from(
            base.join(objects, objects.c.id == base.c.id).join(
                groups, groups.c.id == objects.c.group_id
            )
        )
        return stmt, value
    a = attributes.alias("a")
    joined = base.outerjoin(a, (a.c.object_id == base.c.id) & (a.c.key == name))
    value = a.c.value_text.label("value")
    return select(base.c.factor, base.c.timestamp, base.c.id, value).select_from(joined), value


def _distribution(conn: Connection, base: Any, name: str, limit: int) -> dict[Any, dict[str, Any]]:
    """Per factor: the number of distinct values and the top ``limit`` (value, count)."""
    if not 1 <= limit <= 100:
        raise QueryError("distribution limit must be 1..100")
    stmt, _ = _values(base, name)
    v = stmt.subquery("v")
    counted = select(v.c.factor, v.c.value, func.count().label("n")).group_by(v.c.factor, v.c.value)
    c = counted.subquery("c")
    rank = func.row_number().over(partition_by=c.c.factor, order_by=(c.c.n.desc(), c.c.value))
    buckets = func.count().over(partition_by=c.c.factor)
    ranked = select(c, rank.label("rank"), buckets.label("buckets")).subquery("r")
    top = select(ranked).where(ranked.c.rank <= limit).order_by(ranked.c.factor, ranked.c.rank)
    out: dict[Any, dict[str, Any]] = {}
    for r in conn.execute(top).mappings():
        d = out.setdefault(r["factor"], {"buckets": r["buckets"], "values": []})
        d["values"].append([r["value"], r["n"]])
    return out


def _ranked(base: Any, newest_first: bool) -> Any:
    order = base.c.timestamp.desc() if newest_first else base.c.timestamp.asc()
    rank = func.row_number().over(partition_by=base.c.factor, order_by=(order, base.c.id))
    return select(base.c.factor, base.c.id, base.c.timestamp, rank.label("rank")).subquery("k")


def _head_tail(conn: Connection, base: Any, name: str, head: bool) -> dict[Any, Any]:
    k = _ranked(base, newest_first=not head)
    firsts = select(k.c.factor, k.c.id).where(k.c.rank == 1).subquery("f")
    value = attribute(name)
    stmt = select(firsts.c.factor, value).select_from(
        firsts.join(objects, objects.c.id == firsts.c.id).join(
            groups, groups.c.id == objects.c.group_id
        )
    )
    return dict(conn.execute(stmt).tuples().all())


def _objects(conn: Connection, base: Any, rows: list[dict[str, Any]], n: int) -> None:
    """The ``n`` most recent objects of each factor, with their main attributes."""
    k = _ranked(base, newest_first=True)
    stmt = (
        select(
            k.c.factor,
            objects.c.oid,
            objects.c.timestamp,
            objects.c.classification,
            objects.c.hostname,
            objects.c.application,
            objects.c.blob_kept,
        )
        .join(objects, objects.c.id == k.c.id)
        .where(k.c.rank <= n)
        .order_by(k.c.factor, k.c.rank)
    )
    by = _row_of(rows)
    for r in rows:
        r["objects"] = []
    for row in conn.execute(stmt).mappings():
        by[row["factor"]]["objects"].append(
            {
                "object": row["oid"],
                "timestamp": row["timestamp"],
                "classification": (row["classification"] or "").split(),
                "attributes": {"hostname": row["hostname"], "application": row["application"]},
                "blob_kept": bool(row["blob_kept"]),
            }
        )


def _groups(conn: Connection, project_id: int, rows: list[dict[str, Any]]) -> None:
    keys = [r["factor"] for r in rows]
    stmt = select(groups).where(groups.c.project_id == project_id, groups.c.fingerprint.in_(keys))
    by = _row_of(rows)
    for g in conn.execute(stmt).mappings():
        by[g["fingerprint"]]["group"] = {
            "state": g["state"],
            "state_by": g["state_by"],
            "state_at": g["state_at"],
            "count": g["count"],
            "first_seen": g["first_seen"],
            "last_seen": g["last_seen"],
            "frames": (g["frames"] or "").split("\n") if g["frames"] else [],
        }
