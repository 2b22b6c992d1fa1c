"""Groups: states with who/when, reopen on regression, merge/unmerge, storage sampling."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.store.coronerd_server import Project, Server, make_server
from tests.store.store_snapshots import compress, group_key, make_snapshot

# Two bugs, and the keys coronerd groups them by (its own fingerprint of their snapshots).
BUG_A, BUG_B = "a1" * 32, "b2" * 32
FP_A, FP_B = group_key(fingerprint=BUG_A), group_key(fingerprint=BUG_B)


def put(store: Server, p: Project, **kw: Any) -> dict[str, Any]:
    url = f"{store.url}/api/v1/projects/{p.name}/objects"
    reply = httpx.post(url, content=compress(make_snapshot(**kw)), headers=p.headers())
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


def group(store: Server, p: Project, fp: str, action: str = "", **body: Any) -> dict[str, Any]:
    url = f"{store.url}/api/v1/projects/{p.name}/groups/{fp}" + (f"/{action}" if action else "")
    reply = (
        httpx.post(url, json=body, headers=p.headers())
        if action
        else httpx.get(url, headers=p.headers())
    )
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def counts(store: Server, p: Project) -> dict[str, int]:
    url = f"{store.url}/api/v1/projects/{p.name}/query"
    rows = httpx.post(url, json={}, headers=p.headers()).json()["rows"]
    return {r["factor"]: r["count"] for r in rows}


def test_resolve_and_reopen_on_newer_version(store: Server) -> None:
    p = store.project()
    put(store, p, fingerprint=BUG_A, version="1.2")
    g = group(store, p, FP_A, "state", state="resolved")
    assert (g["state"], g["state_by"], g["resolved_version"]) == ("resolved", "blackhole", "1.2")
    assert g["state_at"] > 0
    put(store, p, fingerprint=BUG_A, version="1.1")
    put(store, p, fingerprint=BUG_A, version="1.2")
    assert group(store, p, FP_A)["state"] == "resolved"
    put(store, p, fingerprint=BUG_A, version="1.10")
    g = group(store, p, FP_A)
    assert g["state"] == "open" and "regression in 1.10" in g["state_by"]
    assert g["count"] == 4


def test_without_versions_any_occurrence_reopens_and_muted_stays(store: Server) -> None:
    p = store.project()
    put(store, p, fingerprint=BUG_A)
    put(store, p, fingerprint=BUG_B)
    group(store, p, FP_A, "state", state="resolved")
    group(store, p, FP_B, "state", state="muted")
    put(store, p, fingerprint=BUG_A)
    put(store, p, fingerprint=BUG_B)
    assert group(store, p, FP_A)["state"] == "open"
    assert group(store, p, FP_B)["state"] == "muted"


def test_merge_and_unmerge(store: Server) -> None:
    p = store.project()
    for _ in range(3):
        put(store, p, fingerprint=BUG_A)
    for _ in range(2):
        put(store, p, fingerprint=BUG_B)
    assert counts(store, p) == {FP_A: 3, FP_B: 2}
    assert group(store, p, FP_B, "merge", into=FP_A)["merged_into"] == FP_A
    assert counts(store, p) == {FP_A: 5}
    put(store, p, fingerprint=BUG_B)
    assert counts(store, p) == {FP_A: 6}
    assert group(store, p, FP_A)["count"] == 6
    group(store, p, FP_B, "unmerge")
    assert counts(store, p) == {FP_A: 3, FP_B: 3}
    assert group(store, p, FP_B)["merged_into"] is None


def test_unknown_group_and_state(store: Server) -> None:
    p = store.project()
    url = f"{store.url}/api/v1/projects/{p.name}/groups/{'ee' * 32}"
    assert httpx.get(url, headers=p.headers()).json()["error"]["code"] == "group-not-found"
    put(store, p, fingerprint=BUG_A)
    reply = httpx.post(f"{url[:-64]}{FP_A}/state", json={"state": "gone"}, headers=p.headers())
    assert reply.status_code == 422


def test_objects_without_a_client_fingerprint_get_the_servers(store: Server) -> None:
    p = store.project()
    put(store, p, fingerprint=None, frames=("f", "g"))
    put(store, p, fingerprint=None, frames=("f", "g"))
    put(store, p, fingerprint=None, frames=("h",))
    put(store, p, fingerprint=None, frames=())
    assert counts(store, p) == {
        group_key(fingerprint=None, frames=("f", "g")): 2,
        group_key(fingerprint=None, frames=("h",)): 1,
        group_key(fingerprint=None, frames=()): 1,
    }


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def sampled(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """coronerd keeping 2 blobs per group, then 4 a minute and 4 an hour."""
    pg = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    server = make_server(
        request.param,
        tmp_path_factory.mktemp("sampled"),
        pg,
        sampling={"first": 2, "per_minute": 4, "per_hour": 4},
    )
    server.start()
    try:
        yield server
    finally:
        server.kill()


def test_storage_sampling_counts_everything_keeps_some(sampled: Server, tmp_path: Path) -> None:
    p = sampled.project()
    replies = [put(sampled, p, fingerprint=BUG_A) for _ in range(20)]
    kept = [r for r in replies if r["blob_kept"]]
    assert len(kept) == 6  # 2 first, then 4 (the hourly cap holds across a minute boundary)
    assert replies[0]["blob_kept"] and replies[1]["blob_kept"]
    assert counts(sampled, p) == {FP_A: 20}
    dropped = next(r["object"] for r in replies if not r["blob_kept"])
    url = f"{sampled.url}/api/v1/projects/{p.name}/objects/{dropped}"
    reply = httpx.get(url, headers=p.headers())
    assert reply.status_code == 404
    assert "not kept" in reply.json()["error"]["message"]
    assert httpx.get(url + "/meta", headers=p.headers()).json()["blob_kept"] is False
    put(sampled, p, fingerprint=BUG_B)  # another group has its own budget
    assert (
        httpx.get(
            f"{sampled.url}/api/v1/projects/{p.name}/objects/{kept[-1]['object']}",
            headers=p.headers(),
        ).status_code
        == 200
    )
