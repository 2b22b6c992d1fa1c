"""The query language's words, declared once for the client (``coroner``) and the server.

Operators, aggregates, the ``--filter`` text form (``attr=value`` or ``attr,operator[,value]``),
the checks of a regular expression and of a number: ``coresnap.cli.coroner``, the console's
filter bar, alert targets and ``coresnap.store.query`` all read them from here. This module
imports nothing of ``coresnap`` but the errors, so the client needs no part of the server.

Regular expressions are RE2's syntax (``google-re2``): no backreferences, no lookaround, and a
match takes time linear in the value's length whatever the pattern, which is what lets SQLite
run them (PostgreSQL runs its own engine, bounded by a statement timeout).
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any

import re2

from coresnap.errors import QueryError


class Operator(StrEnum):
    """A filter's operator; the negated ones match objects without the attribute too."""

    EQUAL = "equal"
    NOT_EQUAL = "not-equal"
    CONTAINS = "contains"
    NOT_CONTAINS = "not-contains"
    REGULAR_EXPRESSION = "regular-expression"
    INVERSE_REGULAR_EXPRESSION = "inverse-regular-expression"
    GREATER_THAN = "greater-than"
    LESS_THAN = "less-than"
    AT_LEAST = "at-least"
    AT_MOST = "at-most"
    IS_SET = "is-set"
    IS_NOT_SET = "is-not-set"


class AggregateOp(StrEnum):
    """An aggregate computed per factor bucket."""

    COUNT = "count"
    UNIQUE = "unique"
    RANGE = "range"
    HISTOGRAM = "histogram"
    DISTRIBUTION = "distribution"
    HEAD = "head"
    TAIL = "tail"


OPERATORS: tuple[str, ...] = tuple(o.value for o in Operator)
AGGREGATES: tuple[str, ...] = tuple(a.value for a in AggregateOp)
# Each negated operator and the positive one it negates.
NEGATED = {
    "not-equal": "equal",
    "not-contains": "contains",
    "inverse-regular-expression": "regular-expression",
    "is-not-set": "is-set",
}
NUMERIC = frozenset({"greater-than", "less-than", "at-least", "at-most"})
MAX_REGEX = 256
# RE2 refuses a pattern whose compiled program needs more (``(.*){1,100}`` and the like).
_RE2_MAX_MEM = 1 << 20


def parse_filter(text: str) -> dict[str, Any]:
    """``attr=value`` (equal) or ``attr,operator[,value]`` → the JSON filter; raises QueryError."""
    parts = text.split(",", 2)
    if len(parts) >= 2 and parts[1] in OPERATORS:
        value = parts[2] if len(parts) == 3 else None
        return {"attribute": parts[0], "op": parts[1], "value": value}
    attr, sep, value = text.partition("=")
    if not sep or not attr:
        raise QueryError(f"filter {text[:80]!r}: use attr=value or attr,operator,value")
    return {"attribute": attr, "op": "equal", "value": value}


def _options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # an invalid pattern is the user's error, not a log line
    options.max_mem = _RE2_MAX_MEM
    return options


_OPTIONS = _options()


def compile_regex(pattern: str) -> Any:
    """``pattern`` compiled by RE2; raises QueryError when it is too long or not RE2 syntax."""
    if len(pattern) > MAX_REGEX:
        raise QueryError(f"regular expression longer than {MAX_REGEX} characters")
    try:
        return re2.compile(pattern, _OPTIONS)
    except (re2.error, TypeError, ValueError) as e:
        why = e.args[0] if e.args else e
        why = why.decode(errors="replace") if isinstance(why, bytes) else str(why)
        raise QueryError(f"bad regular expression (RE2 syntax): {why[:200]}") from e


def check_regex(pattern: str) -> str:
    """``pattern`` if RE2 accepts it (see :func:`compile_regex`); raises QueryError."""
    compile_regex(pattern)
    return pattern


def number(value: object, what: str) -> float:
    """``value`` as a finite number; raises QueryError naming ``what`` (``nan``, ``1e999``,
    ``inf`` and words are refused: they would compare true or false with everything)."""
    try:
        n = float(str(value))
    except ValueError as e:
        raise QueryError(f"{what} needs a number, not {str(value)[:40]!r}") from e
    if not math.isfinite(n):
        raise QueryError(f"{what} needs a finite number, not {str(value)[:40]!r}")
    return n
