"""Hostile but accepted data on every page and CLI view, over SQLite and PostgreSQL: no 500, no
traceback (issue 13, items 2 and 3).

Shapes: snapshots the JSON Schema accepts, drawn by Hypothesis from the schema itself
(hostile_snapshots.py), and the shapes that gave 500 before (evidence facts as a list, ...).

Times: far-future and 310-digit timestamps at ingest (kept as ``timestamp.original``, the
object dated by the server's clock), and absurd values already in the database (written by an
older coronerd) that every page and ``coroner list``/``summary`` must still show.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from rich.console import Console
from sqlalchemy import update

from coresnap.client import render
from coresnap.snapshot.view import show
from coresnap.store.db.engine import make_engine, writing
from coresnap.store.db.models import groups, objects
from tests.console.console_server import Project, Server, add_user, sign_in
from tests.console.hostile_snapshots import snapshots
from tests.store.store_snapshots import make_snapshot

FAR = 253402300800  # 10000-01-01: past datetime's range
HUGE = 10**309  # 310 digits: past a double's range
EXAMPLES = 50  # per database; each example is an upload and three pages (see below)
PROJECT_EVERY = 5


def _post(server: Server, p: Project, doc: dict[str, Any] | bytes) -> httpx.Response:
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return httpx.post(
        f"{server.url}/api/v1/projects/{p.name}/objects",
        content=body,
        headers=p.headers(),
        timeout=30,
    )


def _pages(server: Server, p: Project, client: httpx.Client) -> dict[str, httpx.Response]:
    """Every console page of the project and of each of its objects and groups."""
    pages = {u: client.get(u) for u in ("/", f"/p/{p.name}", f"/p/{p.name}?sort=count&age=1y")}
    query = {"limit": 100, "objects": 100, "factor": "fingerprint"}
    rows = httpx.post(
        f"{server.url}/api/v1/projects/{p.name}/query", json=query, headers=p.headers()
    ).json()["rows"]
    for row in rows:
        pages[f"/p/{p.name}/g/{row['factor']}"] = client.get(f"/p/{p.name}/g/{row['factor']}")
        for obj in row.get("objects", []):
            oid = obj["object"]
            for u in (f"/p/{p.name}/o/{oid}", f"/p/{p.name}/o/{oid}/snapshot"):
                pages[u] = client.get(u)
    return pages


def _coroner(p: Project, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coresnap.cli.coroner", "-c", str(p.cf), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_everything_renders(server: Server, p: Project, user: str) -> None:
    client = sign_in(server, user)
    try:
        pages = _pages(server, p, client)
    finally:
        client.close()
    bad = {u: r.status_code for u, r in pages.items() if r.status_code != 200}
    assert not bad, bad
    for args in (["list", p.name, "-R", "-H", "3", "-i", "3"], ["summary", p.name]):
        run = _coroner(p, *args)
        assert run.returncode == 0 and "Traceback" not in run.stderr, (args, run.stderr[-2000:])


def test_times_out_of_the_window_are_the_servers_and_kept_as_attributes(
    console_store: Server,
) -> None:
    p = console_store.project()
    before = time.time()
    oids = {}
    sent = {"far": FAR, "huge": HUGE, "negative": -5, "float": 1e308}
    for name, ts in sent.items():
        doc = make_snapshot(fingerprint=f"time-{name}", timestamp=ts)
        reply = _post(console_store, p, doc)
        assert reply.status_code == 201, (name, reply.text)
        oids[name] = reply.json()["object"]
    for name, oid in oids.items():
        meta = httpx.get(
            f"{console_store.url}/api/v1/projects/{p.name}/objects/{oid}/meta", headers=p.headers()
        ).json()
        assert before - 5 <= meta["timestamp"] <= time.time() + 5, (name, meta["timestamp"])
        original = str(meta["attributes"]["timestamp.original"])
        assert original[:12] == str(sent[name])[:12], (name, original)
    user = add_user(console_store, f"u{p.name}", [p.name])
    assert_everything_renders(console_store, p, user)


def test_absurd_times_already_stored_still_render(console_store: Server) -> None:
    """Values an older coronerd stored (it kept any finite number) are shown, never a 500."""
    p = console_store.project()
    values = [FAR, 1e308, -1e308, 0.0, 1e18]
    oids = []
    for i in range(len(values)):
        reply = _post(console_store, p, make_snapshot(fingerprint=f"stored-{i}"))
        assert reply.status_code == 201, reply.text
        oids.append(reply.json()["object"])
    engine = make_engine(console_store.database_url)
    try:
        with writing(engine.connect()) as conn, conn.begin():
            for oid, ts in zip(oids, values, strict=True):
                gid = conn.execute(
                    update(objects)
                    .where(objects.c.oid == oid)
                    .values(timestamp=ts)
                    .returning(objects.c.group_id)
                ).scalar_one()
                conn.execute(
                    update(groups).where(groups.c.id == gid).values(first_seen=ts, last_seen=ts)
                )
    finally:
        engine.dispose()
    user = add_user(console_store, f"u{p.name}", [p.name])
    assert_everything_renders(console_store, p, user)


def _check_snapshot(
    server: Server, p: Project, client: httpx.Client, doc: dict[str, Any], project: bool = True
) -> None:
    """Upload ``doc``; its object, snapshot and group pages and terminal view must show; with
    ``project``, the project's page and list too (they show the latest uploads together)."""
    reply = _post(server, p, doc)
    assert reply.status_code in (200, 201, 413, 422), reply.text[:500]
    if reply.status_code != 201:
        return
    oid, group = reply.json()["object"], reply.json()["group"]
    for url in (f"/p/{p.name}/o/{oid}", f"/p/{p.name}/o/{oid}/snapshot", f"/p/{p.name}/g/{group}"):
        page = client.get(url)
        assert page.status_code == 200, (url, page.status_code, page.text[:300])
    show(doc, Console(file=io.StringIO(), width=120, highlight=False, soft_wrap=False))
    if project:
        _check_project(server, p, client)


def _check_project(server: Server, p: Project, client: httpx.Client) -> None:
    """The project page and what ``coroner list`` prints of the latest uploads."""
    page = client.get(f"/p/{p.name}")
    assert page.status_code == 200, (page.status_code, page.text[:300])
    query = {
        "limit": PROJECT_EVERY,
        "sort": "-last_seen",  # the groups of the latest uploads
        "objects": 3,
        "aggregates": [{"op": "histogram"}],
    }
    rows = client.post(
        f"{server.url}/api/v1/projects/{p.name}/query", json=query, headers=p.headers()
    )
    assert rows.status_code == 200, rows.text[:300]
    render.render_list(rows.json())


def _shapes() -> list[dict[str, Any]]:
    """The shapes that gave 500 (issue 13, item 3) and their neighbours."""
    out = []
    for change in (
        {"classification": {"labels": ["abort"], "evidence": [{"rule": "x", "facts": [1, 2]}]}},
        {"classification": {"labels": [], "evidence": ["text", 3, None, [[]]]}},
        {"classification": {"labels": ["a"], "evidence": [{"facts": {"k": [{"n": 1}]}}]}},
        {"annotations": ["not a dict", 7, {"kind": ["x"]}]},
        {"quality": {"score": 10**30, "reasons": [{"x": 1}, None]}},
        {"analysis": {"engine": None, "cuts": {"a": 1}, "duration_ms": -(10**20)}},
        {"fingerprint": {"hash": "ab", "frames": {"x": 1}, "version": "v"}},
        {"privacy": ["scrubbed", {"k": None}]},
        {"kernel": [1, 2]},
        {"attributes": {"note\x00": "a\x00b", "hostname": "h\x00st"}},
    ):
        doc = make_snapshot(fingerprint=None)
        doc.update(change)
        out.append(doc)
    nul = make_snapshot(application="app\x00x", frames=("f\x00n", "main"))
    nul["classification"]["labels"] = ["abort\x00"]
    return [*out, nul]  # NUL in indexed text: PostgreSQL's text refuses it


@pytest.mark.parametrize("index", range(len(_shapes())))
def test_known_hostile_shapes_render(console_store: Server, index: int) -> None:
    p = console_store.project()
    client = sign_in(console_store, add_user(console_store, f"u{p.name}", [p.name]))
    try:
        _check_snapshot(console_store, p, client, _shapes()[index])
    finally:
        client.close()


def test_schema_valid_snapshots_render_everywhere(console_store: Server) -> None:
    """Hypothesis draws snapshots from the JSON Schema; each is uploaded and every page and CLI
    view of it shown: 200 or a clear 4xx at upload, never a 500 or a traceback.

    An example costs ~0.3 s (drawing it 0.1 s, the upload 0.1 s, its three pages); the project
    page and list, which show the latest PROJECT_EVERY uploads together, are checked every
    PROJECT_EVERY examples and at the end rather than after each (they cost as much again)."""
    p = console_store.project()
    client = sign_in(console_store, add_user(console_store, f"u{p.name}", [p.name]))
    drawn = 0

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(doc=snapshots())
    def check(doc: dict[str, Any]) -> None:
        nonlocal drawn
        drawn += 1
        _check_snapshot(console_store, p, client, doc, project=drawn % PROJECT_EVERY == 0)

    try:
        check()
        _check_project(console_store, p, client)
    finally:
        client.close()
    for args in (["list", p.name, "-R", "-H", "3", "-i", "3"], ["summary", p.name]):
        run = _coroner(p, *args)
        assert run.returncode == 0 and "Traceback" not in run.stderr, (args, run.stderr[-2000:])
