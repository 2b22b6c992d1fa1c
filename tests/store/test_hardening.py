"""Smaller hardening against a real coronerd (issue 13, item 6): attachments are downloaded,
never rendered; /metrics needs loopback or its token; Swagger UI (a CDN's scripts) is off."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.store.coronerd_server import Server, make_server
from tests.store.store_snapshots import compress, make_snapshot

TOKEN = "m" * 40


@pytest.mark.parametrize("kind", ["text/html", "image/svg+xml", "application/json"])
def test_attachments_download_as_bytes(store: Server, kind: str) -> None:
    p = store.project()
    snap = make_snapshot()
    base = f"{store.url}/api/v1/projects/{p.name}/objects"
    assert httpx.post(base, content=compress(snap), headers=p.headers()).status_code == 201
    url = f"{base}/{snap['uuid']}/attachments/page.html"
    body = b"<script>alert(document.cookie)</script>"
    put = httpx.put(url, content=body, headers={**p.headers(), "Content-Type": kind})
    assert put.status_code == 201, put.text
    got = httpx.get(url, headers=p.headers())
    assert got.status_code == 200 and got.content == body
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-disposition"] == 'attachment; filename="page.html"'


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A coronerd with a metrics token and the API docs on."""
    s = make_server(
        "sqlite",
        tmp_path_factory.mktemp("guarded"),
        None,
        metrics={"token": TOKEN},
        server={"docs": True},
    )
    s.start()
    try:
        yield s
    finally:
        s.kill()


def test_metrics_answer_loopback_only_without_a_token(store: Server) -> None:
    assert httpx.get(f"{store.url}/metrics").status_code == 200
    # A client behind a proxy on this host (uvicorn believes X-Forwarded-For from loopback).
    remote = httpx.get(f"{store.url}/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert remote.status_code == 401
    assert "coronerd_objects_ingested" not in remote.text


def test_metrics_need_the_token_when_set(guarded: Server) -> None:
    assert httpx.get(f"{guarded.url}/metrics").status_code == 401
    wrong = {"Authorization": "Bearer " + "x" * 40}
    assert httpx.get(f"{guarded.url}/metrics", headers=wrong).status_code == 401
    right = httpx.get(f"{guarded.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert right.status_code == 200 and "coronerd_" in right.text


def test_api_docs_are_off_by_default(store: Server, guarded: Server) -> None:
    for path in ("/docs", "/redoc"):
        assert httpx.get(store.url + path).status_code == 404
        assert httpx.get(guarded.url + path).status_code == 200
    assert httpx.get(store.url + "/openapi.json").status_code == 200
