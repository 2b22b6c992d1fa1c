"""The object page of a deliberate death (assert, abort, uncaught C++ exception) opens on the
program's own code (issue 14), in real headless Chromium with JavaScript off.

Real programs crash under the real kernel, ``coresnap snapshot`` reads their cores, coronerd
stores them. The page's headline is what the runtime said (the assertion, the exception's
type) or where the program gave up; the libc/libstdc++ frames above the first own frame are
folded in a closed <details>; the first own frame is marked, has an id, and "Look here first"
links to it.
"""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import pytest
import zstandard
from playwright.sync_api import expect, sync_playwright

from coresnap.client import cf, put_snapshot
from tests.console.console_crashes import ABORTS, real_crash, snapshot
from tests.console.console_server import PASSWORD, Server, add_user

# The first own frame of each program: the function that asserted, threw or called abort().
OWN = {"cls_assert.c": "check_count", "cls_uncaught_exception.cc": "parse_port",
       "cls_abort.c": "give_up"}  # fmt: skip
# A library frame each crash has above it, folded away.
LIBRARY = {"cls_assert.c": "__assert_fail", "cls_uncaught_exception.cc": "__cxa_throw",
           "cls_abort.c": "raise"}  # fmt: skip


@pytest.mark.parametrize(("program", "headline"), ABORTS, ids=[p for p, _ in ABORTS])
def test_object_page_opens_on_the_first_own_frame(
    sqlite_store: Server, tmp_path: Path, program: str, headline: str
) -> None:
    c = real_crash(program, signal.SIGABRT, tmp_path / "crash")
    snap = snapshot(c, tmp_path / "crash.snap", "1.0")
    doc = json.loads(zstandard.decompress(snap.read_bytes()))
    project = sqlite_store.project()
    put_snapshot(cf.load(project.cf), project.name, "blackhole", snap)
    user = add_user(sqlite_store, f"dev{project.name[-8:]}", [project.name])
    url = f"{sqlite_store.url}/p/{project.name}/o/{doc['uuid']}"

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium")
        try:
            context = browser.new_context(
                java_script_enabled=False, viewport={"width": 1280, "height": 800}
            )
            page = context.new_page()
            page.goto(url)
            page.fill("input[name=name]", user)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page).to_have_url(url)

            expect(page.locator("#headline")).to_have_text(headline)
            crashed = page.locator("details.thread.crashed")
            own = crashed.locator("#first-own-frame")
            expect(own).to_have_class(re.compile(r"\bfirst-own\b"))
            expect(own.locator(".fn")).to_have_text(OWN[program])
            expect(own).to_be_visible()

            folded = crashed.locator("details.library-frames")
            expect(folded).to_have_count(1)
            exactly = re.compile(f"^{re.escape(LIBRARY[program])}$")
            library = folded.locator("li.frame .fn").filter(has_text=exactly)
            expect(library).to_be_hidden()
            expect(folded.locator("summary")).to_contain_text("library frames")
            page.screenshot(path=str(tmp_path / "folded.png"), full_page=True)
            folded.locator("summary").click()
            expect(library).to_be_visible()
            # Nothing of the program's own is folded: every frame above it is a library's.
            expect(folded.locator(".fn", has_text=OWN[program])).to_have_count(0)
            # "Look here first" flags no libc/libstdc++ internal variable (issue 14).
            expect(folded.locator("tr.flag, .note")).to_have_count(0)

            page.locator(".notes a[href='#first-own-frame']").click()
            expect(page).to_have_url(url + "#first-own-frame")
            expect(own).to_be_in_viewport()
        finally:
            browser.close()
