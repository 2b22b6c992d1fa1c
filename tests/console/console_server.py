"""A real coronerd for the console tests: users, projects, uploads and signed-in HTTP clients.

Reuses tests/store/coronerd_server.py (the store tests' process helper) by path.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from coresnap.store.console import users
from coresnap.store.db.engine import make_engine, writing
from tests.store.coronerd_server import Project, Server
from tests.store.store_snapshots import compress, make_snapshot

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')

__all__ = ["PASSWORD", "Project", "Server", "add_user", "csrf_of", "make_snapshot", "sign_in"]


def add_user(server: Server, name: str, projects: list[str], admin: bool = False) -> str:
    """Create user ``name`` (password PASSWORD) with access to ``projects``."""
    engine = make_engine(server.database_url)
    try:
        with writing(engine.connect()) as conn, conn.begin():
            users.create_user(conn, name, PASSWORD, admin=admin)
            for p in projects:
                users.grant(conn, name, p)
    finally:
        engine.dispose()
    return name


def csrf_of(html: str) -> str:
    m = _CSRF.search(html)
    assert m, "no CSRF field in the page"
    return m.group(1)


def sign_in(server: Server, name: str, password: str = PASSWORD) -> httpx.Client:
    """An HTTP client holding a session of ``name`` (asserts the sign-in worked)."""
    client = httpx.Client(base_url=server.url, timeout=30)
    page = client.get("/login")
    r = client.post("/login", data={"name": name, "password": password, "csrf": csrf_of(page.text)})
    assert r.status_code == 303, r.text[:500]
    return client


def upload(server: Server, project: Project, **kw: Any) -> str:
    """Upload a synthetic (valid) snapshot; returns its object id."""
    snap = make_snapshot(**kw)
    r = httpx.post(
        f"{server.url}/api/v1/projects/{project.name}/objects",
        content=compress(snap),
        headers=project.headers(),
        timeout=30,
    )
    assert r.status_code in (200, 201), r.text
    return str(r.json()["object"])
