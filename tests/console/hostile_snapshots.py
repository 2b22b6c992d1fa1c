"""Snapshots that the snapshot JSON Schema accepts but nobody would write: a Hypothesis strategy
built from the schema itself (coresnap/snapshot/schema/snapshot-v1.schema.json).

Every keyword the schema uses is honoured (type, properties, required, items, $ref, enum,
const, pattern, minimum/maximum, additionalProperties); wherever the schema leaves a value
open (an empty schema, an array without items, an object without additionalProperties: false)
any JSON goes: lists where dicts were expected, huge integers, markup, control characters.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

SCHEMA_PATH = (
    Path(__file__).resolve().parents[2]
    / "coresnap"
    / "snapshot"
    / "schema"
    / "snapshot-v1.schema.json"
)
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())

HOSTILE_TEXT = st.one_of(
    st.text(max_size=24),
    st.sampled_from(
        [
            "<script>alert(1)</script>",
            "{{ 7*7 }}",
            "\x00\x1b[31m",
            "%s%n",
            "A" * 2000,
            "../../etc/passwd",
            "\u202eevil",
            "nan",
            "-1e999",
        ]
    ),
)
HOSTILE_INT = st.one_of(
    st.integers(-(2**70), 2**70), st.sampled_from([0, -1, 2**63, 10**309, -(10**309)])
)
NUMBER = st.one_of(HOSTILE_INT, st.floats(allow_nan=False, allow_infinity=False))
ANY_JSON: st.SearchStrategy[Any] = st.recursive(
    st.one_of(st.none(), st.booleans(), HOSTILE_INT, NUMBER, HOSTILE_TEXT),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(HOSTILE_TEXT, inner, max_size=3)
    ),
    max_leaves=8,
)


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    assert ref.startswith("#/$defs/"), ref
    return _resolve(SCHEMA["$defs"][ref.rsplit("/", 1)[1]])


def strategy(schema: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values valid under ``schema`` (a part of SCHEMA)."""
    schema = _resolve(schema)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kinds = schema.get("type")
    if kinds is None:
        return ANY_JSON
    if isinstance(kinds, list):
        return st.one_of(*(strategy({**schema, "type": k}, depth) for k in kinds))
    return _typed(kinds, schema, depth)


def _typed(kind: str, schema: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "string":
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True)
        return HOSTILE_TEXT
    if kind in ("integer", "number"):
        lo, hi = schema.get("minimum"), schema.get("maximum")
        if lo is not None or hi is not None:
            ints = st.integers(lo, hi if hi is not None else 2**70)
            if kind == "integer":
                return ints
            return st.one_of(ints, st.floats(lo, hi, allow_nan=False, allow_infinity=False))
        return HOSTILE_INT if kind == "integer" else NUMBER
    if kind == "array":
        items = schema.get("items")
        inner = ANY_JSON if items is None else strategy(items, depth + 1)
        return st.lists(inner, max_size=3 if depth < 3 else 1)
    if kind == "object":
        return _object(schema, depth)
    raise AssertionError(f"schema type {kind!r}")


def _object(schema: dict[str, Any], depth: int) -> st.SearchStrategy[dict[str, Any]]:
    props = schema.get("properties", {})
    required = set(schema.get("required", ()))
    fixed = st.fixed_dictionaries(
        {k: strategy(v, depth + 1) for k, v in props.items() if k in required},
        optional={k: strategy(v, depth + 1) for k, v in props.items() if k not in required},
    )
    extra_schema = schema.get("additionalProperties", True)
    if extra_schema is False:
        return fixed
    extra_values = ANY_JSON if extra_schema is True else strategy(extra_schema, depth + 1)
    extra = st.dictionaries(HOSTILE_TEXT.filter(lambda k: k not in props), extra_values, max_size=2)
    return st.builds(lambda a, b: {**b, **a}, fixed, extra)


def snapshots() -> st.SearchStrategy[dict[str, Any]]:
    """Whole snapshots valid under the schema, each with a fresh uuid."""
    return strategy(SCHEMA).map(lambda d: {**d, "uuid": uuid.uuid4().hex})
