"""``coroner symbols upload`` shows its progress (issue 14): the body goes out in chunks that
report (file, bytes sent, size), with its Content-Length, to a real coronerd."""

from __future__ import annotations

from coresnap.client import api, cf
from tests import crashes
from tests.store.coronerd_server import Server


def test_debug_file_upload_reports_its_bytes(store: Server) -> None:
    p = store.project()
    exe = crashes.build("snap_basic.c")
    size = exe.stat().st_size
    heard: list[tuple[str, int, int]] = []
    record = api.upload_debug_file(cf.load(str(p.cf)), p.name, exe, "blackhole",
                                   progress=lambda *step: heard.append(step))  # fmt: skip
    assert record["size"] == size
    assert heard and heard[-1] == (exe.name, size, size)
    assert [done for _, done, _ in heard] == sorted({done for _, done, _ in heard})


def test_chunks_are_sent_again_on_a_retry() -> None:
    heard: list[int] = []
    body = bytes(range(256)) * 10_000
    sent = api._Sent(body, "f", lambda _n, done, _t: heard.append(done))
    assert b"".join(sent) == body == b"".join(sent)
    assert heard[-1] == len(body) and heard.count(len(body)) == 2
