"""Hostile requests get the right 4xx in the one error shape, store nothing, and the server lives."""

from __future__ import annotations

import json

import httpx
import pytest
import zstandard

from tests.store.coronerd_server import Project, Server
from tests.store.store_snapshots import compress, make_snapshot


def objects_url(store: Server, p: Project) -> str:
    return f"{store.url}/api/v1/projects/{p.name}/objects"


def assert_error(reply: httpx.Response, status: int, code: str | None = None) -> None:
    assert reply.status_code == status, reply.text
    error = reply.json()["error"]
    assert error["status"] == status and error["message"]
    if code:
        assert error["code"] == code


def stored(store: Server, p: Project) -> int:
    reply = httpx.get(f"{store.url}/api/v1/projects/{p.name}/summary", headers=p.headers())
    return int(reply.json()["objects"])


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"X-Coroner-Token": "0" * 64}, 401),
        ({"Authorization": "Bearer " + "f" * 64}, 401),
        ({"X-Coroner-Token": "' OR 1=1 --"}, 401),
    ],
)
def test_bad_tokens_cannot_post(store: Server, headers: dict[str, str], status: int) -> None:
    p = store.project()
    reply = httpx.post(objects_url(store, p), content=compress(make_snapshot()), headers=headers)
    assert_error(reply, status, "unauthorized")
    assert stored(store, p) == 0


def test_read_token_cannot_post_and_submit_token_cannot_read(store: Server) -> None:
    p = store.project()
    body = compress(make_snapshot())
    assert_error(httpx.post(objects_url(store, p), content=body, headers=p.headers("reader")), 403)
    assert stored(store, p) == 0
    oid = httpx.post(objects_url(store, p), content=body, headers=p.headers("submitter")).json()
    url = f"{objects_url(store, p)}/{oid['object']}"
    assert_error(httpx.get(url, headers=p.headers("submitter")), 403, "forbidden")
    query = f"{store.url}/api/v1/projects/{p.name}/query"
    assert_error(httpx.post(query, json={}, headers=p.headers("submitter")), 403)


def test_token_of_another_project_is_refused(store: Server) -> None:
    p, q = store.project(), store.project()
    reply = httpx.post(
        objects_url(store, p), content=compress(make_snapshot()), headers=q.headers()
    )
    assert_error(reply, 401)
    assert stored(store, p) == 0


@pytest.mark.parametrize(
    "oid", ["../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "a" * 31, "A" * 33, "%00" + "a" * 31]
)
def test_path_tricks_in_ids(store: Server, oid: str) -> None:
    p = store.project()
    reply = httpx.get(f"{objects_url(store, p)}/{oid}", headers=p.headers())
    assert reply.status_code == 404
    assert reply.json()["error"]["status"] == 404
    snap = make_snapshot(oid="0" * 32)
    snap["uuid"] = "../../../../tmp/evil"
    body = zstandard.compress(json.dumps(snap).encode())
    assert_error(httpx.post(objects_url(store, p), content=body, headers=p.headers()), 422)
    assert stored(store, p) == 0


def test_oversized_bodies(store: Server) -> None:
    p = store.project()
    big = b"\x28\xb5\x2f\xfd" + b"x" * (2 << 20)  # over the test server's 1 MiB max_body
    assert_error(httpx.post(objects_url(store, p), content=big, headers=p.headers()), 413)

    def chunks():  # no Content-Length: the limit must hold while streaming too
        for _ in range(40):
            yield b"y" * 65536

    assert_error(httpx.post(objects_url(store, p), content=chunks(), headers=p.headers()), 413)
    snap = make_snapshot()
    snap["attributes"]["padding"] = "z" * (80 << 20)  # compresses to ~KB, inflates past the limit
    bomb = zstandard.ZstdCompressor(level=19).compress(json.dumps(snap).encode())
    assert len(bomb) < 1 << 20
    assert_error(httpx.post(objects_url(store, p), content=bomb, headers=p.headers()), 413)
    assert stored(store, p) == 0


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\x28\xb5\x2f\xfd garbage",
        b"[1, 2, 3]",
        b"{" + b'"a":' * 1 + b"[" * 100_000 + b"]" * 100_000 + b"}",
        json.dumps({"format": "coresnap-snapshot"}).encode(),
        b'{"format": "coresnap-snapshot", "timestamp": NaN}',
        b'{"uuid": ' + b"9" * 100_000 + b"}",
    ],
)
def test_malformed_and_hostile_json(store: Server, body: bytes) -> None:
    p = store.project()
    reply = httpx.post(objects_url(store, p), content=body, headers=p.headers())
    assert reply.status_code in (413, 422), reply.text
    assert reply.json()["error"]["code"] in ("invalid-snapshot", "payload-too-large")
    assert stored(store, p) == 0
    assert httpx.get(f"{store.url}/api/v1/health").status_code == 200


def test_wrong_fields_types_refused(store: Server) -> None:
    p = store.project()
    snap = make_snapshot()
    snap["threads"] = "lots"
    reply = httpx.post(objects_url(store, p), content=compress(snap), headers=p.headers())
    assert_error(reply, 422, "invalid-snapshot")


@pytest.mark.parametrize(
    "filt",
    [
        {"attribute": "application", "op": "equal", "value": "x' OR '1'='1"},
        {"attribute": "application'; DROP TABLE objects; --", "op": "equal", "value": "x"},
        {"attribute": "hostname", "op": "contains", "value": "%' UNION SELECT * FROM tokens --"},
        {"attribute": "x", "op": "greater-than", "value": "1; DELETE FROM objects"},
        {"attribute": "application", "op": "drop-table", "value": "x"},
    ],
)
def test_sql_injection_looking_filters(store: Server, filt: dict[str, str]) -> None:
    p = store.project()
    httpx.post(objects_url(store, p), content=compress(make_snapshot()), headers=p.headers())
    reply = httpx.post(
        f"{store.url}/api/v1/projects/{p.name}/query", json={"filters": [filt]}, headers=p.headers()
    )
    if reply.status_code == 200:
        assert reply.json()["total"] == 0  # a value that matches nothing, bound as a parameter
    else:
        assert reply.status_code in (400, 422) and "error" in reply.json()
    assert stored(store, p) == 1


@pytest.mark.parametrize("pattern", ["(a+)+$", "(a*)*b", "(a|aa)+$", "(x+x+)+y"])
def test_catastrophic_regexes_run_in_linear_time(store: Server, pattern: str) -> None:
    p = store.project()
    snap = make_snapshot(application="a" * 60)
    httpx.post(objects_url(store, p), content=compress(snap), headers=p.headers())
    filt = {"attribute": "application", "op": "regular-expression", "value": pattern}
    reply = httpx.post(
        f"{store.url}/api/v1/projects/{p.name}/query",
        json={"filters": [filt]},
        headers=p.headers(),
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    assert httpx.get(f"{store.url}/api/v1/health").status_code == 200


def test_backreferences_are_refused(store: Server) -> None:
    p = store.project()
    filt = {"attribute": "application", "op": "regular-expression", "value": r"(\w+)\1"}
    reply = httpx.post(
        f"{store.url}/api/v1/projects/{p.name}/query", json={"filters": [filt]}, headers=p.headers()
    )
    assert_error(reply, 400, "invalid-query")


def test_framework_errors_share_the_shape(store: Server) -> None:
    p = store.project()
    assert_error(httpx.get(f"{store.url}/nowhere"), 404)
    assert_error(httpx.delete(f"{store.url}/api/v1/health"), 405)
    query = f"{store.url}/api/v1/projects/{p.name}/query"
    reply = httpx.post(query, json={"limit": "many"}, headers=p.headers())
    assert_error(reply, 422, "invalid-request")
    assert reply.json()["error"]["problems"]
