"""A screenshot of each console page in real headless Chromium (JavaScript off), over real
crashes: sign-in, projects, a project with its crash-volume chart, a group, the object page of
a failed assert(), the alerts page.

Five real programs crash under the real kernel and ``coresnap snapshot`` reads their cores
once; each snapshot is then uploaded several times with a fresh object id and a timestamp
spread over the last week (the chart needs crashes on several days; nothing else is changed).
A webhook target delivers to a real receiver on loopback, so the alerts page has deliveries.

The PNGs go to the test's tmp dir, or to ``$CORESNAP_SCREENSHOTS`` when set:
``tools/console_screenshots.py`` sets it to docs/console/, which docs/console.md embeds.
"""

from __future__ import annotations

import json
import os
import random
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import zstandard
from playwright.sync_api import Page, ViewportSize, expect, sync_playwright

from coresnap.store import auth
from coresnap.store.db.engine import make_engine, writing
from tests.alerts.alert_receivers import HttpReceiver
from tests.alerts.alert_store import ALERTING, add_target
from tests.console.console_crashes import real_crash, snapshot
from tests.console.console_server import PASSWORD, Server, add_user
from tests.store.coronerd_server import Project, make_server
from tests.store.store_snapshots import compress

# (program, signal, uploads into "blackhole", uploads into "billing")
CRASHES = (
    ("cls_assert.c", signal.SIGABRT, 14, 0),
    ("cls_null.c", signal.SIGSEGV, 9, 3),
    ("cls_uncaught_exception.cc", signal.SIGABRT, 6, 0),
    ("cls_abort.c", signal.SIGABRT, 3, 0),
    ("cls_div_by_zero.c", signal.SIGFPE, 2, 2),
)
PAGES = ("01-sign-in", "02-projects", "03-project", "04-group", "05-object-assert", "06-alerts")
VIEWPORT: ViewportSize = {"width": 1200, "height": 760}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = make_server("sqlite", tmp_path_factory.mktemp("screenshots"), None, **ALERTING)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    hook = HttpReceiver().start()
    try:
        yield hook
    finally:
        hook.stop()


def _project(server: Server, name: str) -> tuple[Project, str]:
    """Project ``name`` (a fixed name: these pictures are in the docs) with the token
    ``blackhole`` (submit, read), and an admin token of it."""
    engine = make_engine(server.database_url)
    try:
        with writing(engine.connect()) as conn, conn.begin():
            auth.create_project(conn, name)
            submit = auth.create_token(conn, name, "blackhole", {"submit", "read"})
            admin = auth.create_token(conn, name, "admin", {"admin", "read"})
    finally:
        engine.dispose()
    return Project(name, {"blackhole": submit}, server.workdir / f"{name}.cf"), admin


def _upload(server: Server, project: Project, doc: dict[str, Any], when: float) -> str:
    """``doc`` again, as a new object that crashed at ``when``; returns its object id."""
    copy = {**doc, "uuid": uuid.uuid4().hex, "timestamp": when}
    r = httpx.post(
        f"{server.url}/api/v1/projects/{project.name}/objects",
        content=compress(copy),
        headers=project.headers(),
        timeout=30,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["object"])


def _shots() -> Path | None:
    found = os.environ.get("CORESNAP_SCREENSHOTS")
    return Path(found) if found else None


def _shot(page: Page, out: Path, name: str) -> None:
    assert name in PAGES
    page.screenshot(path=str(out / f"{name}.png"))


def test_screenshot_each_page(store: Server, receiver: HttpReceiver, tmp_path: Path) -> None:
    out = _shots() or tmp_path / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    projects = {name: _project(store, name) for name in ("blackhole", "billing")}
    main, admin = projects["blackhole"]
    hook = {"url": receiver.url, "secret": "s3cret"}
    add_target(store, main, admin, name="on-call", kind="webhook", settings=hook,
               events=["new-group"])  # fmt: skip
    docs = {}
    for program, sig, _, _ in CRASHES:
        c = real_crash(program, sig, tmp_path / program.split(".")[0])
        snap = snapshot(c, tmp_path / f"{program}.snap", "2.4.1")
        docs[program] = json.loads(zstandard.decompress(snap.read_bytes()))
    now, spread = time.time(), random.Random(14)
    last = {}
    for program, _, here, there in CRASHES:
        for name, n in (("blackhole", here), ("billing", there)):
            for when in sorted(now - spread.uniform(600, 7 * 86400) for _ in range(n)):
                last[(name, program)] = _upload(store, projects[name][0], docs[program], when)
    user = add_user(store, "alice", ["blackhole", "billing"], admin=True)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium")
        try:
            page = browser.new_context(java_script_enabled=False, viewport=VIEWPORT).new_page()
            page.goto(f"{store.url}/")
            page.fill("input[name=name]", user)
            page.fill("input[name=password]", PASSWORD)
            _shot(page, out, "01-sign-in")
            page.click("button[type=submit]")

            expect(page.locator("main")).to_contain_text("billing")
            expect(page.locator("main")).to_contain_text("blackhole")
            _shot(page, out, "02-projects")

            page.goto(f"{store.url}/p/blackhole")
            expect(page.locator("tr.group")).to_have_count(5)
            expect(page.locator("#volume")).to_contain_text("peak")
            _shot(page, out, "03-project")

            page.locator("tr.group", has_text="check_count").locator("a.fp").click()
            expect(page.locator("h1")).to_contain_text("check_count")
            expect(page.locator("#first-own-frame")).to_be_visible()
            _shot(page, out, "04-group")

            page.goto(f"{store.url}/p/blackhole/o/{last[('blackhole', 'cls_assert.c')]}")
            expect(page.locator("#headline")).to_contain_text("Assertion 'count > 1")
            expect(page.locator("#first-own-frame")).to_be_in_viewport()
            _shot(page, out, "05-object-assert")

            page.goto(f"{store.url}/p/blackhole/alerts")
            expect(page.locator("main")).to_contain_text("on-call")
            # Five new groups, five messages: wait until the outbox has sent them all.
            for _ in range(60):
                if len(receiver.requests) >= 5:
                    break
                time.sleep(0.5)
            page.reload()
            expect(page.locator("main")).to_contain_text("sent")
            _shot(page, out, "06-alerts")
        finally:
            browser.close()
    for name in PAGES:
        png = (out / f"{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 8000, name


def test_docs_show_every_page() -> None:
    """docs/console.md embeds each page's screenshot, and the file is there (a PNG)."""
    docs = Path(__file__).resolve().parents[2] / "docs"
    text = (docs / "console.md").read_text()
    for name in PAGES:
        assert f"](console/{name}.png)" in text, name
        assert (docs / "console" / f"{name}.png").read_bytes().startswith(b"\x89PNG"), name
