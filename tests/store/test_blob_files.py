"""Local blob files: whole and durable, leftovers of a killed writer replaced, and uploads that
storage sampling drops leave no file behind (even when concurrent uploads guessed wrong)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import httpx
import pytest

from coresnap.client.api import put_body
from coresnap.client.http import Client
from coresnap.errors import StoreError
from coresnap.store.blobs import LocalBlobs, blob_key
from tests.store.coronerd_server import make_server
from tests.store.store_snapshots import compress, group_key, make_snapshot


def test_put_writes_whole_files_and_replaces_a_killed_writers_leftover(tmp_path: Path) -> None:
    blobs = LocalBlobs(tmp_path / "blobs")
    oid = os.urandom(16).hex()
    key = blob_key("p", oid)
    data = os.urandom(5000)
    blobs.put(key, data)
    assert blobs.get(key) == data
    path = tmp_path / "blobs" / "p" / oid[:2] / oid[2:4] / f"{oid}.snap"
    assert path.read_bytes() == data

    # What a writer killed half way leaves under the final name: put replaces it whole.
    other = os.urandom(16).hex()
    leftover = tmp_path / "blobs" / "p" / other[:2] / other[2:4] / f"{other}.snap"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(data[:1000])
    blobs.put(blob_key("p", other), data)
    assert leftover.read_bytes() == data
    # A whole copy already there is kept; different bytes replace it.
    blobs.put(blob_key("p", other), data)
    assert leftover.read_bytes() == data
    blobs.put(blob_key("p", other), b"new")
    assert blobs.get(blob_key("p", other)) == b"new"
    assert not [p for p in (tmp_path / "blobs").rglob(".tmp-*")]

    # A second store on the same directory (another process) reads and writes the same files.
    again = LocalBlobs(tmp_path / "blobs")
    assert again.get(key) == data
    again.delete(key)
    assert blobs.get(key) is None

    for bad in ("../outside.snap", "/etc/passwd", "p/../../x.snap"):
        with pytest.raises(StoreError):
            blobs.put(bad, b"x")
    assert not (tmp_path / "outside.snap").exists()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_concurrent_uploads_to_a_new_group_keep_one_blob_file(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # Every upload finds the group missing and guesses "kept", writing its blob before its
    # transaction; only the first counted is kept, the others must delete their file again.
    pg = request.getfixturevalue("pg_url") if kind == "postgresql" else None
    sampling = {"first": 1, "per_minute": 0, "per_hour": 0}
    server = make_server(kind, tmp_path / "srv", pg, sampling=sampling)
    server.start()
    try:
        p = server.project()
        fingerprint = os.urandom(32).hex()
        bodies = [compress(make_snapshot(fingerprint=fingerprint)) for _ in range(48)]
        stored: list[dict[str, object]] = []

        def send(part: list[bytes]) -> None:
            with Client(server.url, p.tokens["submitter"]) as client:
                for body in part:
                    reply = client.json(
                        "POST",
                        f"/api/v1/projects/{p.name}/objects",
                        content=body,
                        headers={"content-type": "application/zstd"},
                    )
                    stored.append(reply)
                    put_body(client, p.name, body)  # a retry: nothing written again

        threads = [threading.Thread(target=send, args=(bodies[i::8],)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(stored) == len(bodies)
        kept = [s["object"] for s in stored if s["blob_kept"]]
        assert len(kept) == 1
        files = [f for f in (tmp_path / "srv" / "blobs" / p.name).rglob("*") if f.is_file()]
        assert [f.name for f in files] == [f"{kept[0]}.snap"]
        base = f"{server.url}/api/v1/projects/{p.name}"
        blob = httpx.get(f"{base}/objects/{kept[0]}", headers=p.headers())
        assert blob.status_code == 200 and blob.content in bodies
        key = group_key(fingerprint=fingerprint)
        group = httpx.get(f"{base}/groups/{key}", headers=p.headers()).json()
        assert group["count"] == len(bodies)
    finally:
        server.kill()
