"""Queries get a bounded share of coronerd: twenty clients running slow regular-expression
queries in a loop (each up to the 2 s statement timeout) leave uploads, the health check and
the sign-in page answering within a bound, over SQLite and PostgreSQL (issue 13, item 1: "make
one slow query unable to block ingest").

Without the share, the queries held every pooled connection (PostgreSQL 12, SQLite 15) and the
CPUs for their whole timeout, and an upload waited in the pool's queue behind them.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.console.console_server import add_user, sign_in
from tests.store.coronerd_server import Project, Server
from tests.store.test_hostile_queries import long_valued, upload_one

CLIENTS = 20
# What one upload, health check or sign-in page may take beside them on a loaded 2-CPU machine
# (seen: 0.3-2.4 s with the default 4 query slots; without slots, PostgreSQL's pool timed out
# the health check after 30 s: a 500).
SHARE_BOUND = 5.0


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def crowded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Project]]:
    """A coronerd with a 2 s statement timeout, the default query slots, long attribute values
    (a query waits 1 s for a slot: the excess is turned away sooner)."""
    yield from long_valued(
        request, tmp_path_factory, "share", {"statement_timeout": 2, "query_wait": 1}
    )


def _slow(attribute: str) -> dict[str, object]:
    """A query that runs to the statement timeout: 32 regular expressions RE2 runs in linear
    time but slowly (a counted repetition of ``.*``), each true of every long value."""
    pattern = "(.*){1,%d}[0-9a]"
    return {
        "filters": [
            {"attribute": attribute, "op": "regular-expression", "value": pattern % (100 - i)}
            for i in range(32)
        ]
    }


def _hammer(server: Server, p: Project, body: dict[str, object], stop: threading.Event) -> Counter:
    """Run the query again and again until ``stop``; the answers' codes counted."""
    seen: Counter[str] = Counter()
    url = f"{server.url}/api/v1/projects/{p.name}/query"
    with httpx.Client(headers=p.headers(), timeout=120) as client:
        while not stop.is_set():
            reply = client.post(url, json=body)
            if reply.status_code == 200:
                seen["ok"] += 1
                continue
            assert reply.status_code == 503, reply.text[:300]
            code = reply.json()["error"]["code"]
            seen[code] += 1
            if code == "busy":
                assert int(reply.headers["retry-after"]) >= 1
                stop.wait(0.2)  # a polite client; an impolite one only costs the event loop
    return seen


def test_twenty_slow_queries_leave_uploads_and_health_answering(
    crowded: tuple[Server, Project],
) -> None:
    server, p = crowded
    bodies = [_slow(attribute) for attribute in ("application", "note")]
    beside: list[tuple[str, float]] = []

    def timed(what: str, call: Callable[[], httpx.Response], status: int) -> None:
        started = time.monotonic()
        reply = call()
        beside.append((what, round(time.monotonic() - started, 3)))
        assert reply.status_code == status, reply.text[:300]

    stop = threading.Event()
    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        running = [
            pool.submit(_hammer, server, p, bodies[i % len(bodies)], stop) for i in range(CLIENTS)
        ]
        try:
            time.sleep(1.0)  # every client has a query in flight or waiting
            for _ in range(4):
                timed("upload", lambda: upload_one(server, p), 201)
                timed("health", lambda: httpx.get(f"{server.url}/api/v1/health", timeout=60), 200)
                timed("login", lambda: httpx.get(f"{server.url}/login", timeout=60), 200)
        finally:
            stop.set()
        seen = sum((f.result() for f in running), Counter())
    print(f"{server.kind}: beside {CLIENTS} query clients {beside}; answers {dict(seen)}")
    worst = max(seconds for _, seconds in beside)
    assert worst < SHARE_BOUND, f"{beside} beside {CLIENTS} query clients ({dict(seen)})"
    assert seen["busy"] > 0, seen  # the excess was turned away, not queued on connections


def test_a_slow_query_stops_at_the_statement_timeout(crowded: tuple[Server, Project]) -> None:
    """SQLite's progress handler runs every 10,000 VM instructions: 32 slow REGEXP calls per
    row reach that after thousands of calls (14.5 s for this query, timeout 2 s), so the
    regexp function looks at the deadline too."""
    server, p = crowded
    started = time.monotonic()
    reply = httpx.post(
        f"{server.url}/api/v1/projects/{p.name}/query",
        json=_slow("note"),
        headers=p.headers(),
        timeout=60,
    )
    seconds = time.monotonic() - started
    if reply.status_code != 200:  # PostgreSQL's engine may finish first on a quiet machine
        assert reply.json()["error"]["code"] == "query-timeout", reply.text[:300]
    assert seconds < 4.0, f"{server.kind}: {seconds:.1f} s (statement timeout 2 s)"


def test_a_console_page_without_a_slot_is_an_error_page(crowded: tuple[Server, Project]) -> None:
    server, p = crowded
    user = add_user(server, f"u{p.name}", [p.name])
    stop = threading.Event()
    browser = sign_in(server, user)
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        running = [pool.submit(_hammer, server, p, _slow("note"), stop) for _ in range(6)]
        try:
            time.sleep(0.5)
            pages: list[httpx.Response] = []
            while len(pages) < 10 and all(page.status_code != 503 for page in pages):
                pages.append(browser.get(f"/p/{p.name}"))
        finally:
            stop.set()
            browser.close()
        for f in running:
            f.result()
    busy = [page for page in pages if page.status_code == 503]
    assert busy, [page.status_code for page in pages]
    assert "text/html" in busy[0].headers["content-type"]
    assert "query slots in use" in busy[0].text
    assert all(page.status_code in (200, 503) for page in pages)
