"""An attribute whose integer is past a double's range is stored (as text, no number): found by
the schema-driven hostile snapshots (test_console_hostile.py), a 500 before."""

from __future__ import annotations

import httpx

from tests.store.coronerd_server import Server
from tests.store.store_snapshots import compress, make_snapshot


def test_an_integer_past_a_doubles_range_is_stored(store: Server) -> None:
    p = store.project()
    body = compress(make_snapshot(huge=10**400, fine=7))
    url = f"{store.url}/api/v1/projects/{p.name}/objects"
    reply = httpx.post(url, content=body, headers=p.headers("submitter"), timeout=30)
    assert reply.status_code == 201, reply.text
    rows = httpx.post(
        f"{store.url}/api/v1/projects/{p.name}/query",
        json={"filter": [["fine", "at-least", "7"]]},
        headers=p.headers(),
        timeout=30,
    )
    assert rows.status_code == 200 and sum(r["count"] for r in rows.json()["rows"]) == 1
