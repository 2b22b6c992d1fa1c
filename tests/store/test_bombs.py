"""Decompression bombs against a real coronerd: concurrent uploads that inflate to tens of MB
each, with and without a declared size, and bytes hidden after the snapshot's frame.

The bound is measured, not asserted from the code: coronerd's peak resident set (VmHWM in
/proc/<pid>/status) after the bombs (issue 13, item 4: eight such uploads took it from 143 MB
to 2.7 GB).
"""

from __future__ import annotations

import concurrent.futures
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import zstandard

from tests.store.coronerd_server import Project, Server, make_server
from tests.store.store_snapshots import compress, make_snapshot

BOMBS = 8
# What coronerd may grow by under all the bombs below (defaults: 16 MiB per snapshot, a
# 24 MiB budget shared by uploads in progress).
GROWTH_BOUND_MB = 350


def _json_bomb(size: int) -> bytes:
    """A JSON document of ``size`` bytes that parses into a list of ``size / 2`` numbers."""
    n = (size - 32) // 2
    return b'{"format": "x", "pad": [' + b"0," * n + b"0]}"


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = make_server("sqlite", tmp_path_factory.mktemp("bombs"), None, limits={"max_body": 1 << 20})
    s.start()
    try:
        yield s
    finally:
        s.kill()


def _post(server: Server, p: Project, body: bytes) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/v1/projects/{p.name}/objects",
        content=body,
        headers=p.headers(),
        timeout=120,
    )


def test_concurrent_bombs_keep_coronerd_small(server: Server) -> None:
    assert server.proc is not None
    p = server.project()
    assert _post(server, p, compress(make_snapshot())).status_code == 201
    before = _peak_mb(server.proc.pid)
    declared = zstandard.compress(_json_bomb(62 << 20))  # the issue's: 62 MB in ~8 KB
    hidden = zstandard.ZstdCompressor(write_content_size=False).compress(_json_bomb(62 << 20))
    under = zstandard.compress(_json_bomb((16 << 20) - 1024))  # just under the limit
    assert max(len(declared), len(hidden), len(under)) < 64 << 10
    bodies = [declared, hidden] * BOMBS + [under] * (BOMBS // 4)
    with concurrent.futures.ThreadPoolExecutor(len(bodies)) as pool:
        replies = list(pool.map(lambda b: _post(server, p, b), bodies))
    statuses = [r.status_code for r in replies]
    assert statuses[: 2 * BOMBS] == [413] * (2 * BOMBS), statuses
    assert all(s in (422, 503) for s in statuses[2 * BOMBS :]), statuses  # not a snapshot
    after = _peak_mb(server.proc.pid)
    print(f"coronerd peak RSS {before:.0f} MB -> {after:.0f} MB under {len(bodies)} bombs")
    assert after - before < GROWTH_BOUND_MB, f"{before:.0f} MB -> {after:.0f} MB"
    assert _post(server, p, compress(make_snapshot())).status_code == 201  # still serving


def _frames_after(first: bytes, kind: str) -> bytes:
    if kind == "frame":
        return first + zstandard.compress(b"\0" * (64 << 20))
    if kind == "skippable":  # magic 0x184D2A50, 4-byte length, content (RFC 8878 3.1.2)
        return first + bytes.fromhex("502a4d18") + (8).to_bytes(4, "little") + b"x" * 8
    return first + b"garbage"


@pytest.mark.parametrize("kind", ["frame", "skippable", "garbage"])
def test_bytes_after_the_frame_are_refused(server: Server, kind: str) -> None:
    p = server.project()
    body = _frames_after(compress(make_snapshot()), kind)
    reply = _post(server, p, body)
    assert reply.status_code == 422, reply.text
    assert "after the snapshot's frame" in reply.json()["error"]["message"]
    summary = httpx.get(f"{server.url}/api/v1/projects/{p.name}/summary", headers=p.headers())
    assert summary.json()["objects"] == 0


def test_a_checksummed_streamed_snapshot_is_one_frame(server: Server) -> None:
    p = server.project()
    raw = json.dumps(make_snapshot()).encode()
    out = zstandard.ZstdCompressor(write_checksum=True, write_content_size=False)
    chunked = out.compressobj()
    body = b"".join(
        chunked.compress(raw[i : i + 100]) + chunked.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)
        for i in range(0, len(raw), 100)
    )
    body += chunked.flush()
    assert _post(server, p, body).status_code == 201
