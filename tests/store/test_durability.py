"""kill -9 during ingest loses no acknowledged upload; two coronerd on one PostgreSQL act as one."""

from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from coresnap.client.api import put_body
from coresnap.client.http import Client
from coresnap.errors import CoresnapError
from tests.store.coronerd_server import Project, Server, fresh_pg_database, make_server
from tests.store.store_snapshots import compress, group_key, make_snapshot


def _upload_until_failure(
    server: Server, p: Project, sent: dict[str, bytes], acked: list[str], n: int
) -> None:
    with Client(server.url, p.tokens["submitter"], retries=0, timeout=10) as client:
        for i in range(100_000):
            body = compress(make_snapshot(fingerprint=f"{i % 5:02x}" * 32, hostname=f"h{n}"))
            oid = body and make_oid(body)
            sent[oid] = body
            try:
                put_body(client, p.name, body)
            except CoresnapError:
                return
            acked.append(oid)


def make_oid(body: bytes) -> str:
    import json

    import zstandard

    return str(json.loads(zstandard.decompress(body))["uuid"])


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_kill_9_during_ingest_loses_no_acknowledged_upload(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    pg = request.getfixturevalue("pg_url") if kind == "postgresql" else None
    server = make_server(kind, tmp_path / "srv", pg, sampling={"first": 3})
    server.start()
    try:
        p = server.project()
        sent: dict[str, bytes] = {}
        acked: list[str] = []
        threads = [
            threading.Thread(target=_upload_until_failure, args=(server, p, sent, acked, n))
            for n in range(4)
        ]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while len(acked) < 150 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.kill(signal.SIGKILL)
        for t in threads:
            t.join(timeout=30)
        assert len(acked) >= 150
        server.start(server.port)
        base = f"{server.url}/api/v1/projects/{p.name}/objects"
        with httpx.Client(headers=p.headers(), timeout=30) as http:
            for oid in acked:
                meta = http.get(f"{base}/{oid}/meta")
                assert meta.status_code == 200, f"acknowledged {oid} lost after kill -9"
                if meta.json()["blob_kept"]:
                    assert http.get(f"{base}/{oid}").content == sent[oid]
            # Re-sending everything (the daemon's retry after the crash) makes no duplicates.
            for body in sent.values():
                assert http.post(base, content=body, headers=p.headers("submitter")).is_success
            summary = http.get(f"{server.url}/api/v1/projects/{p.name}/summary").json()
            assert summary["objects"] == len(sent)
            rows = http.post(f"{server.url}/api/v1/projects/{p.name}/query", json={}).json()
            for row in rows["rows"]:
                group = http.get(f"{server.url}/api/v1/projects/{p.name}/groups/{row['factor']}")
                assert group.json()["count"] == row["count"]
    finally:
        server.kill()


def test_two_coronerd_on_one_postgresql_behave_as_one(tmp_path: Path) -> None:
    with fresh_pg_database() as url:
        a = make_server("postgresql", tmp_path / "a", url)
        b = make_server("postgresql", tmp_path / "b", url)
        # One blob directory for both, as one S3 bucket would be.
        b.config.write_text(
            a.config.read_text().replace('path = "blobs"', f'path = "{tmp_path / "a" / "blobs"}"')
        )
        a.config.write_text(b.config.read_text())
        both = [a, b]
        with ThreadPoolExecutor(2) as pool:  # start together: the schema migrates once
            list(pool.map(lambda s: s.start(), both))
        try:
            p = a.project()
            bodies = [compress(make_snapshot(fingerprint=f"{i % 3:02x}" * 32)) for i in range(120)]

            def send(i: int) -> None:
                for server in (both[i % 2], both[(i + 1) % 2]):  # each upload hits both servers
                    with Client(server.url, p.tokens["submitter"]) as c:
                        put_body(c, p.name, bodies[i])

            with ThreadPoolExecutor(8) as pool:
                list(pool.map(send, range(len(bodies))))
            for server in both:
                url_q = f"{server.url}/api/v1/projects/{p.name}/query"
                rows = httpx.post(url_q, json={}, headers=p.headers()).json()["rows"]
                assert {r["factor"]: r["count"] for r in rows} == {
                    group_key(fingerprint=f"{i:02x}" * 32): 40 for i in range(3)
                }
            # Blobs stored through either server are read through the other.
            kept = 0
            for body in bodies:
                base = f"{b.url}/api/v1/projects/{p.name}/objects/{make_oid(body)}"
                if httpx.get(base + "/meta", headers=p.headers()).json()["blob_kept"]:
                    kept += 1
                    assert httpx.get(base, headers=p.headers()).content == body
            assert kept >= 3 * 2  # sampling keeps at least the first 2 of each group
        finally:
            for server in both:
                server.kill()
