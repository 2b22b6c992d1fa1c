"""Helpers for alert tests: settings, an admin token, targets over the HTTP API, uploads."""

from __future__ import annotations

import time
from typing import Any

import httpx

from coresnap.store import auth
from coresnap.store.db.engine import make_engine, writing
from tests.store.coronerd_server import Project, Server
from tests.store.store_snapshots import compress, make_snapshot

CONSOLE = "http://console.example:6098"
ALERTING: dict[str, dict[str, object]] = {
    "alerting": {"retry_base": 1, "retry_max": 2, "timeout": 3, "max_attempts": 30},
    "console": {"url": CONSOLE},
    "sampling": {"first": -1},
}


def admin_project(server: Server, prefix: str = "al") -> tuple[Project, str]:
    """A new project and an admin token of it."""
    p = server.project(prefix)
    engine = make_engine(server.database_url)
    try:
        with writing(engine.connect()) as conn, conn.begin():
            token = auth.create_token(conn, p.name, "admin", {"admin", "read"})
    finally:
        engine.dispose()
    return p, token


def api(server: Server, p: Project) -> str:
    return f"{server.url}/api/v1/projects/{p.name}/alerts"


def add_target(server: Server, p: Project, admin: str, **spec: Any) -> dict[str, Any]:
    reply = httpx.post(api(server, p), json=spec, headers={"X-Coroner-Token": admin})
    assert reply.status_code == 201, reply.text
    return dict(reply.json())


def put(server: Server, p: Project, **kw: Any) -> float:
    """Upload one snapshot made by make_snapshot(**kw); returns the seconds it took."""
    url = f"{server.url}/api/v1/projects/{p.name}/objects"
    started = time.monotonic()
    reply = httpx.post(url, content=compress(make_snapshot(**kw)), headers=p.headers(), timeout=30)
    took = time.monotonic() - started
    assert reply.status_code == 201, reply.text
    return took


def deliveries(server: Server, p: Project, **params: Any) -> list[dict[str, Any]]:
    reply = httpx.get(api(server, p) + "/deliveries", params=params, headers=p.headers("reader"))
    assert reply.status_code == 200, reply.text
    return list(reply.json()["deliveries"])


def settle(server: Server, p: Project, timeout: float = 20.0) -> list[dict[str, Any]]:
    """The deliveries once none is pending."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = deliveries(server, p, limit=1000)
        if not any(r["state"] == "pending" for r in rows):
            return rows
        time.sleep(0.1)
    raise AssertionError(f"deliveries still pending: {deliveries(server, p)}")


def set_state(server: Server, p: Project, fp: str, state: str, **body: Any) -> None:
    url = f"{server.url}/api/v1/projects/{p.name}/groups/{fp}/state"
    reply = httpx.post(url, json={"state": state, **body}, headers=p.headers())
    assert reply.status_code == 200, reply.text


def delete_target(server: Server, p: Project, admin: str, name: str) -> None:
    reply = httpx.delete(f"{api(server, p)}/{name}", headers={"X-Coroner-Token": admin})
    assert reply.status_code == 204, reply.text
