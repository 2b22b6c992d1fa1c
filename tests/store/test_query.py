"""The query language, run in the database, on both databases."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.store.coronerd_server import Project, Server
from tests.store.store_snapshots import compress, group_key, make_snapshot

T0 = 1_700_000_000.0
# Three bugs, and the keys coronerd groups them by (its fingerprint of their snapshots).
BUG_A, BUG_B, BUG_C = "aa" * 32, "bb" * 32, "cc" * 32
FP_A = group_key(fingerprint=BUG_A)
FP_B = group_key(fingerprint=BUG_B, application="daemon", labels=("null-deref",))
FP_C = group_key(fingerprint=BUG_C, application="daemon", labels=())


def put(store: Server, p: Project, **kw: Any) -> str:
    url = f"{store.url}/api/v1/projects/{p.name}/objects"
    reply = httpx.post(url, content=compress(make_snapshot(**kw)), headers=p.headers())
    assert reply.status_code == 201, reply.text
    return str(reply.json()["object"])


def query(store: Server, p: Project, **body: Any) -> dict[str, Any]:
    url = f"{store.url}/api/v1/projects/{p.name}/query"
    reply = httpx.post(url, json=body, headers=p.headers())
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


@pytest.fixture(scope="module")
def corpus(store: Server) -> Project:
    """10 objects: 5 of A (simple@web1, v1.2..), 3 of B (daemon@web2), 2 of C (daemon@db1)."""
    p = store.project("q")
    for i in range(5):
        put(
            store,
            p,
            fingerprint=BUG_A,
            hostname="web1",
            timestamp=T0 + i * 3600,
            version=f"1.{i + 8}",
            load=i,
        )
    for i in range(3):
        put(
            store,
            p,
            fingerprint=BUG_B,
            application="daemon",
            hostname="web2",
            timestamp=T0 + 86400 + i,
            labels=("null-deref",),
            load=10 + i,
        )
    for i in range(2):
        put(
            store,
            p,
            fingerprint=BUG_C,
            application="daemon",
            hostname="db1",
            timestamp=T0 + 2 * 86400 + i,
            labels=(),
            region="eu",
        )
    return p


def total(store: Server, p: Project, *filters: tuple[str, str, Any]) -> int:
    body = [{"attribute": a, "op": o, "value": v} for a, o, v in filters]
    return int(query(store, p, filters=body)["total"])


@pytest.mark.parametrize(
    ("filt", "expected"),
    [
        (("application", "equal", "simple"), 5),
        (("application", "not-equal", "simple"), 5),
        (("hostname", "contains", "web"), 8),
        (("hostname", "not-contains", "web"), 2),
        (("hostname", "regular-expression", "^(web|db)[0-9]$"), 10),
        (("hostname", "inverse-regular-expression", "^web"), 2),
        (("load", "greater-than", "3"), 4),
        (("load", "less-than", "3"), 3),
        (("load", "at-least", "11"), 2),
        (("load", "at-most", "11"), 7),
        (("region", "is-set", None), 2),
        (("region", "is-not-set", None), 8),
        (("region", "equal", "eu"), 2),
        (("classification", "equal", "null-deref"), 3),
        (("classification", "not-equal", "use-after-free"), 5),
        (("version", "regular-expression", r"^1\.1[0-2]$"), 3),
        (("timestamp", "at-least", str(T0 + 86400)), 5),
        (("fingerprint", "equal", FP_B), 3),
        (("application", "contains", "%"), 0),
    ],
)
def test_each_operator(store: Server, corpus: Project, filt: tuple[str, str, Any], expected: int):
    assert total(store, corpus, filt) == expected


def test_filters_combine_with_and(store: Server, corpus: Project) -> None:
    n = total(store, corpus, ("application", "equal", "daemon"), ("hostname", "equal", "db1"))
    assert n == 2


def test_factor_sort_and_paging(store: Server, corpus: Project) -> None:
    r = query(store, corpus, factor="application", sort="-count")
    assert [(x["factor"], x["count"]) for x in r["rows"]] == [("daemon", 5), ("simple", 5)] or [
        (x["factor"], x["count"]) for x in r["rows"]
    ] == [("simple", 5), ("daemon", 5)]
    assert r["factors"] == 2 and r["total"] == 10
    r = query(store, corpus, sort="-count", limit=1, offset=1)
    assert [x["factor"] for x in r["rows"]] == [FP_B]
    r = query(store, corpus, sort="-last_seen", limit=1)
    assert r["rows"][0]["factor"] == FP_C
    r = query(store, corpus, factor="region", sort="factor")
    assert {x["factor"]: x["count"] for x in r["rows"]} == {None: 8, "eu": 2}


def test_aggregates(store: Server, corpus: Project) -> None:
    r = query(
        store,
        corpus,
        factor="application",
        sort="factor",
        aggregates=[
            {"op": "count"},
            {"op": "unique", "attribute": "hostname"},
            {"op": "range", "attribute": "load"},
            {"op": "histogram"},
            {"op": "distribution", "attribute": "hostname", "limit": 1},
            {"op": "head", "attribute": "version"},
            {"op": "tail", "attribute": "version"},
        ],
        buckets=3,
        objects=2,
    )
    daemon, simple = r["rows"]
    assert daemon["aggregates"]["unique(hostname)"] == 2
    assert daemon["aggregates"]["range(load)"] == [10.0, 12.0]
    assert simple["aggregates"]["range(load)"] == [0.0, 4.0]
    assert daemon["aggregates"]["distribution(hostname)"] == {"buckets": 2, "values": [["web2", 3]]}
    assert simple["aggregates"]["head(version)"] == "1.8"
    assert simple["aggregates"]["tail(version)"] == "1.12"
    assert (
        sum(simple["aggregates"]["histogram"]) == 5 and len(simple["aggregates"]["histogram"]) == 3
    )
    assert [o["timestamp"] for o in daemon["objects"]] == [T0 + 2 * 86400 + 1, T0 + 2 * 86400]


def test_age_window(store: Server) -> None:
    import time

    p = store.project()
    put(store, p, timestamp=time.time() - 3 * 86400)
    put(store, p, timestamp=time.time() - 60)
    assert query(store, p, age="1d")["total"] == 1
    assert query(store, p, age="1w")["total"] == 2
    assert query(store, p, age=7200)["total"] == 1


@pytest.mark.parametrize(
    "body",
    [
        {"age": "forever"},
        {"sort": "colour"},
        {"factor": "a b"},
        {"aggregates": [{"op": "unique"}]},
        {"filters": [{"attribute": "load", "op": "greater-than", "value": "lots"}]},
    ],
)
def test_bad_queries_are_400(store: Server, corpus: Project, body: dict[str, Any]) -> None:
    url = f"{store.url}/api/v1/projects/{corpus.name}/query"
    reply = httpx.post(url, json=body, headers=corpus.headers())
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["code"] == "invalid-query"
