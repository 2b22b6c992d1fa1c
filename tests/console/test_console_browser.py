"""The console in real headless Chromium (JavaScript off: every page must read without it).

Real crashes (tests/programs, real kernel cores, `coresnap snapshot`) go into a real coronerd;
a user signs in, sees them grouped, filters, opens a group and a snapshot, downloads it,
resolves the group, and sees it reopen when a newer version crashes the same way.
Screenshots of every step are saved under the test's tmp dir.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import zstandard
from playwright.sync_api import Page, expect, sync_playwright

from coresnap.client import cf, put_snapshot
from tests.console.console_crashes import PROGRAMS, RealCrash, real_crash, snapshot
from tests.console.console_server import PASSWORD, Server, add_user


@pytest.fixture(scope="module")
def crashes(tmp_path_factory: pytest.TempPathFactory) -> list[RealCrash]:
    work = tmp_path_factory.mktemp("crashes")
    return [real_crash(prog, sig, work / prog.split(".")[0]) for prog, sig in PROGRAMS]


def _doc(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(zstandard.decompress(path.read_bytes()))
    return doc


def _shot(page: Page, shots: Path, name: str) -> None:
    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def test_browse_filter_open_resolve_and_reopen(
    console_store: Server, crashes: list[RealCrash], tmp_path: Path
) -> None:
    project = console_store.project("demo")
    conf = cf.load(project.cf)
    snaps = tmp_path / "snaps"
    snaps.mkdir()
    # cls_null crashes twice (same group), the others once: 3 groups, 4 objects.
    files = [snapshot(c, snaps / f"{c.exe.name}-1.snap", "1.0") for c in crashes]
    files.append(snapshot(crashes[0], snaps / "null-2.snap", "1.0"))
    for f in files:
        put_snapshot(conf, project.name, "blackhole", f)
    docs = [_doc(f) for f in files]
    null_doc = docs[0]
    null_fp = null_doc["fingerprint"]["hash"]
    assert len({d["fingerprint"]["hash"] for d in docs}) == 3
    user = add_user(console_store, f"dev{project.name[-8:]}", [project.name])
    shots = tmp_path / "screenshots"
    shots.mkdir()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium")
        try:
            context = browser.new_context(
                java_script_enabled=False,
                accept_downloads=True,
                viewport={"width": 1400, "height": 900},
            )
            page = context.new_page()
            page.goto(f"{console_store.url}/p/{project.name}")
            expect(page).to_have_url(f"{console_store.url}/login?next=/p/{project.name}")
            page.fill("input[name=name]", user)
            page.fill("input[name=password]", PASSWORD)
            _shot(page, shots, "01-sign-in")
            page.click("button[type=submit]")

            # Project page: three groups, the null-deref one with two occurrences.
            expect(page).to_have_url(f"{console_store.url}/p/{project.name}")
            rows = page.locator("tr.group")
            expect(rows).to_have_count(3)
            null_row = page.locator(f'tr.group[data-fingerprint="{null_fp}"]')
            expect(null_row.locator("td.num").first).to_have_text("2")
            expect(null_row.locator(".chip", has_text="null-deref")).to_be_visible()
            expect(null_row.locator("svg.spark rect")).to_have_count(1)
            expect(page.locator('.breakdown[data-attribute="classification"]')).to_contain_text(
                "div-by-zero"
            )
            _shot(page, shots, "02-project")

            # Filter with the store's query language.
            app = null_doc["attributes"]["application"]
            page.fill("input[name=q]", f"application={app}")
            page.click("form.filterbar button")
            expect(rows).to_have_count(1)
            expect(page.locator("p.summary")).to_contain_text("2 objects in 1 group")
            page.fill("input[name=q]", "classification,contains,abort")
            page.click("form.filterbar button")
            expect(rows).to_have_count(1)
            expect(rows.first).to_contain_text("abort")
            _shot(page, shots, "03-filtered")
            page.fill("input[name=q]", "")
            page.click("form.filterbar button")
            expect(rows).to_have_count(3)

            # Group page: callstack with source, evidence, objects, history.
            null_row.locator("a.fp").click()
            expect(page.locator("h1")).to_contain_text("read_next")
            expect(page.locator("pre.source .hit")).to_contain_text(["n->next"])
            expect(page.locator(".evidence").first).to_contain_text("null-deref")
            expect(page.locator("#objects tbody tr")).to_have_count(2)
            _shot(page, shots, "04-group")

            # Object page: crashed thread first, annotations, modules with build ids.
            oid = null_doc["uuid"]
            page.click(f'#objects a[href$="/o/{oid}"]')
            expect(page.locator("details.thread").first).to_contain_text("(crashed)")
            expect(page.locator(".notes")).to_contain_text("NULL")
            build_id = next(m["build_id"] for m in null_doc["modules"] if m.get("build_id"))
            expect(page.locator("#modules")).to_contain_text(build_id)
            _shot(page, shots, "05-object")
            with page.expect_download() as download:
                page.click("a[download]")
            assert Path(download.value.path()).read_bytes() == files[0].read_bytes()

            # Resolve, then a newer version crashes the same way: the group reopens.
            page.goto(f"{console_store.url}/p/{project.name}/g/{null_fp}")
            page.click('button[value="resolved"]')
            expect(page.locator("h1 .state")).to_have_text("resolved")
            expect(page.locator("#events")).to_contain_text(f"resolve by {user}")
            _shot(page, shots, "06-resolved")
            newer = snapshot(crashes[0], snaps / "null-3.snap", "1.1")
            put_snapshot(conf, project.name, "blackhole", newer)
            page.reload()
            expect(page.locator("h1 .state")).to_have_text("open")
            expect(page.locator("section.head")).to_contain_text("regression in 1.1")
            expect(page.locator("#events li").first).to_contain_text("reopen by coronerd")
            expect(page.locator("#events li").first).to_contain_text("regression in 1.1")
            expect(page.locator("#objects tbody tr")).to_have_count(3)
            _shot(page, shots, "07-reopened")

            # Sign out: the session is gone.
            page.click("header form button")
            expect(page).to_have_url(f"{console_store.url}/login")
            page.goto(f"{console_store.url}/p/{project.name}")
            expect(page).to_have_url(f"{console_store.url}/login?next=/p/{project.name}")
        finally:
            browser.close()
    assert len(list(shots.glob("*.png"))) == 7
