"""16 clients × 200 snapshots in parallel, with retried uploads: exactly 3,200 objects."""

from __future__ import annotations

import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from coresnap.client.api import put_body
from coresnap.client.http import Client
from tests.store.coronerd_server import Project, Server
from tests.store.store_snapshots import compress, group_key, make_snapshot

CLIENTS, EACH = 16, 200
FINGERPRINTS = [f"{i:02x}" * 32 for i in range(7)]
KEYS = {bug: group_key(fingerprint=bug) for bug in FINGERPRINTS}  # coronerd's key of each bug


def _client_run(store: Server, p: Project, n: int) -> Counter[str]:
    rng = random.Random(n)
    sent: Counter[str] = Counter()
    with Client(store.url, p.tokens["submitter"], retries=8) as client:
        for i in range(EACH):
            fp = rng.choice(FINGERPRINTS)
            body = compress(make_snapshot(fingerprint=fp, hostname=f"host{n}", seq=i))
            oid = put_body(client, p.name, body)
            if i % 10 == 0:  # a retry after a lost answer: same bytes again
                assert put_body(client, p.name, body) == oid
            sent[KEYS[fp]] += 1
    return sent


@pytest.mark.slow
def test_parallel_clients_store_each_object_once(store: Server) -> None:
    p = store.project("c")
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(lambda n: _client_run(store, p, n), range(CLIENTS)))
    expected = sum(results, Counter())
    url = f"{store.url}/api/v1/projects/{p.name}"
    summary = httpx.get(f"{url}/summary", headers=p.headers(), timeout=30).json()
    assert summary["objects"] == CLIENTS * EACH
    rows = httpx.post(f"{url}/query", json={"limit": 100}, headers=p.headers(), timeout=30)
    assert {r["factor"]: r["count"] for r in rows.json()["rows"]} == dict(expected)
    for fp, n in expected.items():
        group = httpx.get(f"{url}/groups/{fp}", headers=p.headers()).json()
        assert group["count"] == n
    hosts = {"factor": "hostname", "limit": 100}
    per_host = httpx.post(f"{url}/query", json=hosts, headers=p.headers(), timeout=30).json()
    assert {r["count"] for r in per_host["rows"]} == {EACH}
