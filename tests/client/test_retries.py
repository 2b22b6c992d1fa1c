"""The client against a real HTTP server on loopback that answers as a busy coronerd does:
``Retry-After`` is waited for, a ``query-timeout`` is not retried (it would time out again)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from coresnap.client.http import Client
from coresnap.errors import StoreError, StoreUnavailable


class _Busy:
    """A server answering the queued (status, code, retry-after) replies in turn, then 200."""

    def __init__(self) -> None:
        self.replies: list[tuple[int, str, str | None]] = []
        self.seen: list[float] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                owner.seen.append(time.monotonic())
                status, code, after = owner.replies.pop(0) if owner.replies else (200, "", None)
                body = json.dumps({"error": {"code": code, "message": code}} if code else {})
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if after is not None:
                    self.send_header("Retry-After", after)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def busy() -> Iterator[_Busy]:
    b = _Busy()
    thread = threading.Thread(target=b.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield b
    finally:
        b.server.shutdown()
        b.server.server_close()


def test_retry_after_is_waited_for(busy: _Busy) -> None:
    busy.replies = [(503, "busy", "1"), (429, "too-many-requests", "1")]
    with Client(busy.url, "t", retries=4) as client:
        assert client.request("GET", "/x").status_code == 200
    gaps = [b - a for a, b in zip(busy.seen, busy.seen[1:], strict=False)]
    assert len(gaps) == 2 and min(gaps) >= 0.95, gaps  # backoff alone waits 0.1-0.4 s


def test_odd_retry_after_values_fall_back_to_backoff(busy: _Busy) -> None:
    busy.replies = [(503, "busy", "Wed, 21 Oct 2015 07:28:00 GMT"), (503, "busy", "nan"),
                    (503, "busy", "-5")]  # fmt: skip
    started = time.monotonic()
    with Client(busy.url, "t", retries=4) as client:
        assert client.request("GET", "/x").status_code == 200
    assert time.monotonic() - started < 3.0


def test_a_query_timeout_is_not_retried(busy: _Busy) -> None:
    busy.replies = [(503, "query-timeout", "2")]
    with Client(busy.url, "t", retries=4) as client, pytest.raises(StoreError) as e:
        client.request("GET", "/x")
    assert e.value.code == "query-timeout" and len(busy.seen) == 1


def test_busy_to_the_end_is_unavailable(busy: _Busy) -> None:
    busy.replies = [(503, "busy", "0")] * 3
    with Client(busy.url, "t", retries=2) as client, pytest.raises(StoreUnavailable):
        client.request("GET", "/x")
    assert len(busy.seen) == 3
