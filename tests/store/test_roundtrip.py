"""put / list / get through the real `coroner` client against a real coronerd."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import zstandard

from coresnap.client import cf, put_snapshot
from tests.store.coronerd_server import Server
from tests.store.store_snapshots import compress, group_key, make_snapshot, write


def coroner(cf: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coresnap.cli.coroner", "-c", str(cf), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_put_get_round_trip(store: Server, tmp_path: Path) -> None:
    p = store.project()
    snap = make_snapshot()
    path = write(tmp_path, snap)
    put = coroner(p.cf, "put", p.name, "blackhole", str(path))
    assert put.returncode == 0, put.stderr
    assert put.stdout.strip() == snap["uuid"]
    out = tmp_path / "got.snap"
    got = coroner(p.cf, "get", p.name, snap["uuid"], "-o", str(out))
    assert got.returncode == 0, got.stderr
    assert out.read_bytes() == path.read_bytes()
    assert zstandard.decompress(out.read_bytes()).startswith(b"{")


def test_retried_upload_is_the_same_object(store: Server) -> None:
    p = store.project()
    body = compress(make_snapshot())
    url = f"{store.url}/api/v1/projects/{p.name}/objects"
    first = httpx.post(url, content=body, headers=p.headers())
    again = httpx.post(url, content=body, headers=p.headers())
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["object"] == again.json()["object"]
    summary = httpx.get(f"{store.url}/api/v1/projects/{p.name}/summary", headers=p.headers())
    assert summary.json()["objects"] == 1


def test_list_renders_like_the_seed(store: Server, tmp_path: Path) -> None:
    p = store.project()
    for i in range(19):
        write(tmp_path, make_snapshot(timestamp=1_700_000_000 + i))
    # Another label of the same bug (the class family, memory, is the same): same group.
    write(tmp_path, make_snapshot(labels=("memory.write", "null-deref"), timestamp=1_700_000_100))
    write(tmp_path, make_snapshot(application="other", fingerprint="ab" * 32))
    conf = cf.load(p.cf)
    for path in sorted(tmp_path.glob("*.snap")):
        put_snapshot(conf, p.name, "blackhole", path)
    newest = make_snapshot(timestamp=1_700_000_200)
    assert coroner(p.cf, "put", p.name, "blackhole", str(write(tmp_path, newest))).returncode == 0
    out = coroner(p.cf, "list", p.name, "--filter=application=simple", "-R", "-H1", "-i1")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == f"[{group_key()}]"
    assert re.fullmatch(r"  Date: \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} - .+ \d{4}", lines[1])
    assert lines[2] == "  Occurrences: 21 (over 0 days)"
    assert re.fullmatch(r"  \w{3} \d\d : [ ▁▂▃▄▅▆▇█]{54} : \w{3} \d\d", lines[3])
    assert lines[4] == "  Attributes:"
    assert "    hostname (1 buckets)" in lines
    assert "    application (1 buckets)" in lines
    row = "      simple" + " " * 40 + "21 100.00% " + "█" * 15
    assert row in lines
    assert lines[lines.index("  Classification:") + 1] == "    memory.write (21 buckets)"
    assert "    use-after-free (20 buckets)" in lines
    assert lines[lines.index("  Frames:") + 1] == "    thread_fn"
    objects = lines[lines.index("  Objects:") + 1 :]
    # The newest of 22 rapid uploads is past storage sampling: the line says so after the date.
    line = rf"    \[{newest['uuid']}\] \(.+ \d{{4}}\)( \(snapshot not kept: sampled\))?"
    assert re.fullmatch(line, objects[0])
    assert objects[1] == "      Classification: memory.write use-after-free "
    assert objects[2] == "      Attributes: hostname=broadwell application=simple "
    assert len(objects) == 3


def test_summary_and_describe(store: Server, tmp_path: Path) -> None:
    p = store.project()
    path = write(tmp_path, make_snapshot(version="1.2.3", build=42))
    assert coroner(p.cf, "put", p.name, "submitter", str(path)).returncode == 0
    summary = coroner(p.cf, "summary", p.name)
    assert "Objects: 1 (1 snapshots kept" in summary.stdout
    assert "Groups: open=1" in summary.stdout
    describe = coroner(p.cf, "describe", p.name, "--token", "reader").stdout
    assert re.search(r"^build\s+1\s+1  number$", describe, re.M)
    assert re.search(r"^version\s+1\s+1  string$", describe, re.M)
    assert re.search(r"^classification\s+1\s+2  string$", describe, re.M)


def test_attachments_and_extra_attributes(store: Server) -> None:
    p = store.project()
    snap = make_snapshot()
    base = f"{store.url}/api/v1/projects/{p.name}/objects"
    reply = httpx.post(
        base,
        params={"build": "77"},
        content=compress(snap),
        headers={**p.headers("submitter"), "X-Coroner-Attribute": "team=kernel"},
    )
    assert reply.status_code == 201
    url = f"{base}/{snap['uuid']}/attachments/log.txt"
    put = httpx.put(
        url, content=b"hello", headers={**p.headers("submitter"), "Content-Type": "text/plain"}
    )
    assert put.status_code == 201
    assert httpx.put(url, content=b"other", headers=p.headers()).status_code == 409
    assert httpx.get(url, headers=p.headers()).content == b"hello"
    bad = httpx.put(f"{base}/{snap['uuid']}/attachments/..%2Fx", content=b"x", headers=p.headers())
    assert bad.status_code in (400, 404)
    meta = httpx.get(f"{base}/{snap['uuid']}/meta", headers=p.headers()).json()
    assert meta["attributes"]["build"] == "77" and meta["attributes"]["team"] == "kernel"
    assert meta["attachments"] == ["log.txt"]
