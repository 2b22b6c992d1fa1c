"""The query language: filters, time window, factor, aggregates, sort and paging → SQL.

A query is data (:class:`Query`, built from the HTTP JSON form by :func:`parse`); this module
turns its parts into SQLAlchemy Core expressions over ``objects`` and ``attributes`` and
``aggregate.run`` executes them. Nothing here loads objects into Python. Values are always bound
parameters; attribute names are checked against a strict pattern; regular expressions pass
:func:`coresnap.querylang.check_regex` first (RE2 syntax, at most 256 characters): SQLite runs
them in RE2 (linear time), PostgreSQL in its own engine under the statement timeout
(``limits.statement_timeout``, see ``db/engine.py``). The operators are declared in
:mod:`coresnap.querylang`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, false, not_, or_, select, true
from sqlalchemy.sql.expression import ColumnElement as Col

from coresnap.errors import QueryError
from coresnap.querylang import NEGATED, NUMERIC, OPERATORS, check_regex, number
from coresnap.store.db.models import attributes, groups, objects

# Attributes that are columns (indexed with the project); "fingerprint" is the object's group.
NUMERIC_COLUMNS = {"timestamp": objects.c.timestamp, "received": objects.c.received}
TEXT_COLUMNS = {
    "application": objects.c.application,
    "hostname": objects.c.hostname,
    "version": objects.c.version,
    "object": objects.c.oid,
    "fingerprint": groups.c.fingerprint,
    "state": groups.c.state,
}
NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


@dataclass(frozen=True)
class Filter:
    attribute: str
    op: str
    value: str | None = None


@dataclass(frozen=True)
class Aggregate:
    op: str
    attribute: str | None = None
    limit: int = 5


@dataclass
class Query:
    filters: list[Filter] = field(default_factory=list)
    age: float | None = None
    factor: str = "fingerprint"
    aggregates: list[Aggregate] = field(default_factory=list)
    sort: str = "-count"
    limit: int = 20
    offset: int = 0
    objects: int = 0
    buckets: int = 54


def parse_age(text: str | float | int) -> float:
    """Seconds of a time window: a number, or ``<n><s|m|h|d|w|y>`` (``1w``); raises QueryError."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        seconds = float(text)
    else:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdwy]?)\s*", str(text))
        if not m:
            raise QueryError(f"age {str(text)[:40]!r} is not <number>[s|m|h|d|w|y]")
        seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    if not 0 < seconds < 100 * _UNITS["y"]:
        raise QueryError("age out of range")
    return seconds


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise QueryError(f"invalid attribute name {str(name)[:80]!r}")
    return name


def _number(f: Filter) -> float:
    return number(f.value, f"{f.op} on {f.attribute}")


def _condition(col: Col[Any], op: str, f: Filter, numeric: bool) -> ColumnElement[bool]:
    """The positive condition ``op`` (never a negated operator) on ``col``."""
    if op == "is-set":
        return col.is_not(None)
    if f.value is None:
        raise QueryError(f"{op} on {f.attribute} needs a value")
    value: Any = _number(f) if numeric and (op in NUMERIC or op == "equal") else f.value
    match op:
        case "equal":
            return col == value
        case "contains":
            return col.contains(str(value), autoescape=True)
        case "regular-expression":
            return col.regexp_match(check_regex(str(value)))
        case "greater-than":
            return col > value
        case "less-than":
            return col < value
        case "at-least":
            return col >= value
        case "at-most":
            return col <= value
    raise QueryError(f"unknown operator {op!r} (one of {', '.join(OPERATORS)})")


def condition(f: Filter) -> ColumnElement[bool]:
    """The SQL condition of one filter, on ``objects`` (joined to its ``groups`` row)."""
    check_name(f.attribute)
    if f.op not in OPERATORS:
        raise QueryError(f"unknown operator {f.op!r} (one of {', '.join(OPERATORS)})")
    negated = f.op in NEGATED
    op = NEGATED.get(f.op, f.op)
    if f.attribute in NUMERIC_COLUMNS or f.attribute in TEXT_COLUMNS:
        numeric = f.attribute in NUMERIC_COLUMNS
        col = NUMERIC_COLUMNS.get(f.attribute, TEXT_COLUMNS.get(f.attribute))
        assert col is not None
        positive = _condition(col, op, f, numeric)
        return (
            or_(not_(positive), col.is_(None))
            if negated and op != "is-set"
            else (not_(positive) if negated else positive)
        )
    a = attributes.alias()
    numeric = op in NUMERIC
    inner = _condition(a.c.value_num if numeric else a.c.value_text, op, f, numeric)
    # A semi-join driven by the (key, value) indexes, not a correlated EXISTS per object.
    matching = select(a.c.object_id).where(a.c.key == f.attribute, inner)
    return objects.c.id.not_in(matching) if negated else objects.c.id.in_(matching)


def where(project_id: int, q: Query, now: float | None = None) -> ColumnElement[bool]:
    """The WHERE clause of ``q`` for a project (filters AND time window)."""
    parts: list[ColumnElement[bool]] = [objects.c.project_id == project_id]
    if q.age is not None:
        parts.append(objects.c.timestamp >= (now or time.time()) - q.age)
    parts.extend(condition(f) for f in q.filters)
    return and_(true(), *parts) if parts else false()
