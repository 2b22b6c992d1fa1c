"""The console's Alerts page: targets made through its forms deliver to real receivers on
loopback; who may change them; CSRF; form errors save nothing. Over SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from coresnap.store.alerts.kinds.webhook import SIGNATURE, sign
from coresnap.store.db.engine import make_engine, upgrade
from tests.alerts.alert_receivers import HttpReceiver
from tests.alerts.alert_store import ALERTING, admin_project
from tests.console.console_server import PASSWORD, Server, add_user, csrf_of, sign_in, upload
from tests.store.coronerd_server import Project, fresh_pg_database, make_server
from tests.store.store_snapshots import group_key


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def alerts_console(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A running coronerd whose alert messages are retried after 1 s (2 s at most)."""
    kind = request.param
    with fresh_pg_database() if kind == "postgresql" else contextlib.nullcontext() as pg:
        server = make_server(
            kind, tmp_path_factory.mktemp(f"alerts-console-{kind}"), pg, **ALERTING
        )
        server.start()
        try:
            yield server
        finally:
            server.kill()


@pytest.fixture
def hook() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()


def _fp() -> str:
    return uuid.uuid4().hex * 2


def _admin(server: Server) -> httpx.Client:
    return sign_in(server, add_user(server, f"adm{uuid.uuid4().hex[:8]}", [], admin=True))


def _page(client: httpx.Client, p: Project) -> str:
    r = client.get(f"/p/{p.name}/alerts")
    assert r.status_code == 200, r.text[:500]
    return r.text


def _create(client: httpx.Client, p: Project, kind: str, **fields: object) -> httpx.Response:
    form = client.get(f"/p/{p.name}/alerts/new", params={"kind": kind})
    assert form.status_code == 200, form.text[:500]
    data: dict[str, object] = {"csrf": csrf_of(form.text), "kind": kind, "enabled": "on"}
    data["events"] = ["new-group", "regression"]  # what the form has checked
    data.update(fields)
    return client.post(f"/p/{p.name}/alerts/new", data=data)  # type: ignore[arg-type]


def _state_of(html: str, name: str) -> str:
    m = re.search(rf'data-name="{re.escape(name)}">.*?<td class="target-state">(\w+)<', html, re.S)
    assert m, f"no target {name!r} on the page"
    return m.group(1)


def _states(html: str, target: str) -> list[str]:
    return re.findall(rf'data-target="{re.escape(target)}" data-state="([a-z]+)"', html)


def _wait_state(client: httpx.Client, p: Project, target: str, state: str) -> str:
    deadline = time.monotonic() + 30
    while True:
        html = _page(client, p)
        if state in _states(html, target) or time.monotonic() > deadline:
            assert state in _states(html, target), _states(html, target)
            return html
        time.sleep(0.2)


def _targets(server: Server, p: Project) -> list[dict[str, object]]:
    """The project's targets as the API lists them (a read token of the project)."""
    r = httpx.get(f"{server.url}/api/v1/projects/{p.name}/alerts", headers=p.headers("reader"))
    assert r.status_code == 200, r.text
    return list(r.json()["targets"])


def test_a_target_made_in_the_form_delivers_and_its_delivery_shows_as_sent(
    alerts_console: Server, hook: HttpReceiver
) -> None:
    p = alerts_console.project("ac")
    client = _admin(alerts_console)
    assert f'href="/p/{p.name}/alerts"' in client.get(f"/p/{p.name}").text  # linked
    r = _create(
        client, p, "webhook", name="hook", url=hook.url, secret="s3cret-k1", events="new-group"
    )
    assert r.status_code == 303, r.text[:800]
    html = _page(client, p)
    assert 'data-name="hook"' in html and "s3cret-k1" not in html and "********" in html
    (listed,) = _targets(alerts_console, p)
    assert listed["kind"] == "webhook" and listed["events"] == ["new-group"]
    assert listed["settings"] == {"url": hook.url, "secret": "********"}

    fp = _fp()
    upload(alerts_console, p, fingerprint=fp)
    (req,) = hook.wait(1)
    key = group_key(fingerprint=fp)  # coronerd's key of the bug's group
    assert req.json()["event"] == "new-group" and req.json()["group"]["fingerprint"] == key
    assert req.headers[SIGNATURE] == sign("s3cret-k1", req.body)
    html = _wait_state(client, p, "hook", "sent")
    assert key[:12] in html


def test_a_receiver_answering_500_shows_as_retrying_with_its_error(
    alerts_console: Server,
) -> None:
    failing = HttpReceiver(status=500).start()
    try:
        p = alerts_console.project("ac")
        client = _admin(alerts_console)
        assert _create(client, p, "webhook", name="down", url=failing.url).status_code == 303
        fine = HttpReceiver().start()
        try:
            assert _create(client, p, "webhook", name="up", url=fine.url).status_code == 303
            upload(alerts_console, p, fingerprint=_fp())
            fine.wait(1)
            html = _wait_state(client, p, "down", "retrying")
            _wait_state(client, p, "up", "sent")
        finally:
            fine.stop()
        assert "HTTP 500" in html
        # Failures first: the retrying row comes before the sent one.
        assert html.index('data-target="down"') < html.index('data-target="up"')
        only = client.get(f"/p/{p.name}/alerts", params={"target": "up"}).text
        assert _states(only, "up") == ["sent"] and _states(only, "down") == []
        failing.wait(1)
    finally:
        failing.stop()


def test_edit_keeps_an_empty_secret_disable_stops_messages_and_delete(
    alerts_console: Server, hook: HttpReceiver
) -> None:
    p = alerts_console.project("ac")
    client = _admin(alerts_console)
    created = _create(client, p, "webhook", name="edit.me", url="http://127.0.0.1:9/x", secret="k1")
    assert created.status_code == 303
    form = client.get(f"/p/{p.name}/alerts/t/edit.me")
    assert form.status_code == 200 and "k1" not in form.text
    r = client.post(
        f"/p/{p.name}/alerts/t/edit.me",
        data={
            "csrf": csrf_of(form.text),
            "url": hook.url,
            "secret": "",
            "events": ["new-group", "regression"],
            "min_interval": "10m",
            "filter": "application=simple",
            "enabled": "on",
        },
    )
    assert r.status_code == 303, r.text[:800]
    (t,) = _targets(alerts_console, p)
    assert t["settings"] == {"url": hook.url, "secret": "********"}
    assert t["min_interval"] == 600 and t["filter"] == [
        {"attribute": "application", "op": "equal", "value": "simple"}
    ]
    upload(alerts_console, p, fingerprint=_fp(), application="other")  # filtered out
    upload(alerts_console, p, fingerprint=_fp(), application="simple")
    (req,) = hook.wait(1)
    assert req.headers[SIGNATURE] == sign("k1", req.body)  # the stored secret was kept

    csrf = csrf_of(_page(client, p))
    r = client.post(f"/p/{p.name}/alerts/t/edit.me/enabled", data={"csrf": csrf})
    assert r.status_code == 303
    html = _page(client, p)
    assert _state_of(html, "edit.me") == "disabled"
    upload(alerts_console, p, fingerprint=_fp(), application="simple")
    time.sleep(2.5)
    assert len(hook.requests) == 1  # nothing sent (nor enqueued) while disabled
    assert len(_states(_page(client, p), "edit.me")) == 1
    r = client.post(f"/p/{p.name}/alerts/t/edit.me/enabled", data={"csrf": csrf, "enabled": "on"})
    assert r.status_code == 303
    upload(alerts_console, p, fingerprint=_fp(), application="simple")
    assert len(hook.wait(2)) == 2  # enabled again: the next new group is sent

    r = client.post(f"/p/{p.name}/alerts/t/edit.me/delete", data={"csrf": csrf})
    assert r.status_code == 303
    html = _page(client, p)
    assert 'data-name="edit.me"' not in html and "No alert targets." in html
    assert _targets(alerts_console, p) == []
    assert client.get(f"/p/{p.name}/alerts/t/edit.me").status_code == 404


def test_csrf_other_projects_and_non_admins(alerts_console: Server, hook: HttpReceiver) -> None:
    p, other = alerts_console.project("ac"), alerts_console.project("ac")
    admin = _admin(alerts_console)
    assert (
        _create(admin, p, "webhook", name="kept", url=hook.url, secret="zz-secret-42").status_code
        == 303
    )
    base = f"/p/{p.name}/alerts"
    posts = {
        f"{base}/new": {"kind": "webhook", "name": "sneaky", "url": hook.url, "enabled": "on"},
        f"{base}/t/kept": {"url": "http://127.0.0.1:9/", "enabled": "on"},
        f"{base}/t/kept/enabled": {},
        f"{base}/t/kept/delete": {},
    }
    for url, data in posts.items():
        for token in (None, "not-the-token"):
            sent = dict(data) if token is None else {**data, "csrf": token}
            r = admin.post(url, data=sent)
            assert r.status_code == 403, (url, token, r.status_code)
    (t,) = _targets(alerts_console, p)
    assert t["name"] == "kept" and t["enabled"] is True and t["settings"]["url"] == hook.url

    # A user of another project: the page and every form answer 404.
    stranger = sign_in(
        alerts_console, add_user(alerts_console, f"u{uuid.uuid4().hex[:8]}", [other.name])
    )
    csrf = csrf_of(stranger.get("/").text)
    assert stranger.get(base).status_code == 404
    assert stranger.get(f"{base}/new?kind=webhook").status_code == 404
    for url, data in posts.items():
        assert stranger.post(url, data={**data, "csrf": csrf}).status_code == 404, url

    # A user granted the project reads the page but changes nothing (secrets stay hidden).
    reader = sign_in(alerts_console, add_user(alerts_console, f"u{uuid.uuid4().hex[:8]}", [p.name]))
    html = _page(reader, p)
    assert 'data-name="kept"' in html and "zz-secret-42" not in html
    assert "Only console admins may change targets." in html and ">Delete<" not in html
    csrf = csrf_of(html)
    assert reader.get(f"{base}/new?kind=webhook").status_code == 403
    assert reader.get(f"{base}/t/kept").status_code == 403
    for url, data in posts.items():
        assert reader.post(url, data={**data, "csrf": csrf}).status_code == 403, url
    assert [t["name"] for t in _targets(alerts_console, p)] == ["kept"]
    assert _targets(alerts_console, p)[0]["enabled"] is True


@pytest.mark.parametrize(
    ("kind", "fields", "field", "says"),
    [
        ("webhook", {"url": "ftp://example.com/hook"}, "url", "http:// or https:// URL"),
        ("pager", {"url": "http://127.0.0.1:9/"}, "kind", "one of slack"),
        ("webhook", {"url": "http://127.0.0.1:9/", "filter": "nonsense"}, "filter", "attr=value"),
        ("email", {"host": "mx", "from": "a@b", "to": "c@d", "port": "99999"}, "port", "TCP port"),
        ("jira", {"url": "https://jira.example", "token": "t0k3n"}, "project_key", "required"),
        ("slack", {"url": "http://h/x", "events": "threshold"}, "threshold", "threshold_period"),
    ],
)
def test_a_bad_form_value_is_shown_next_to_its_field_and_nothing_is_saved(
    alerts_console: Server, kind: str, fields: dict[str, str], field: str, says: str
) -> None:
    p = alerts_console.project("ac")
    client = _admin(alerts_console)
    page = client.get(f"/p/{p.name}/alerts/new", params={"kind": "webhook"})
    data = {"csrf": csrf_of(page.text), "kind": kind, "name": "bad-one", "enabled": "on"}
    data["events"] = "new-group"
    r = client.post(f"/p/{p.name}/alerts/new", data={**data, **fields})
    assert r.status_code == 422, r.text[:500]
    error = re.search(rf'data-field="{field}">([^<]*)<', r.text)
    assert error and says in error.group(1), r.text[:3000]
    assert 'value="bad-one"' in r.text  # the form is shown again with what was typed
    assert "t0k3n" not in r.text  # secrets are never echoed back
    assert _targets(alerts_console, p) == []
    # And a bad edit leaves the stored target as it was.
    hook_url = "http://127.0.0.1:9/ok"
    assert _create(client, p, "webhook", name="ok", url=hook_url).status_code == 303
    form = client.get(f"/p/{p.name}/alerts/t/ok")
    r = client.post(
        f"/p/{p.name}/alerts/t/ok",
        data={"csrf": csrf_of(form.text), "url": "not a url", "min_interval": "5 parsecs"},
    )
    assert r.status_code == 422 and re.search(r'data-field="(url|min_interval)">', r.text)
    (t,) = _targets(alerts_console, p)
    assert t["settings"] == {"url": hook_url} and t["min_interval"] == 0 and t["enabled"]


def test_admin_project_tokens_see_what_the_console_made(alerts_console: Server) -> None:
    """The console and the API share one store of targets: the API's admin token sees a
    console-made target and its changes show on the page."""
    p, token = admin_project(alerts_console, "ac")
    client = _admin(alerts_console)
    assert (
        _create(client, p, "slack", name="chat", url="https://hooks.example/T/B/sekrit").status_code
        == 303
    )
    url = f"{alerts_console.url}/api/v1/projects/{p.name}/alerts/chat"
    r = httpx.patch(url, json={"enabled": False}, headers={"X-Coroner-Token": token})
    assert r.status_code == 200, r.text
    html = _page(client, p)
    assert "sekrit" not in html and "https://hooks.example/********" in html
    assert _state_of(html, "chat") == "disabled"


def test_in_chromium_without_javascript(
    alerts_console: Server, hook: HttpReceiver, tmp_path: Path
) -> None:
    """An admin follows the project page's link, fills the webhook form, sees the message sent,
    and disables the target, in headless Chromium with JavaScript off."""
    from playwright.sync_api import expect, sync_playwright

    p = alerts_console.project("ac")
    name = add_user(alerts_console, f"adm{uuid.uuid4().hex[:8]}", [], admin=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium")
        try:
            page = browser.new_context(java_script_enabled=False).new_page()
            page.goto(f"{alerts_console.url}/p/{p.name}")
            page.fill("input[name=name]", name)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.click(f'a[href="/p/{p.name}/alerts"]')
            expect(page).to_have_url(f"{alerts_console.url}/p/{p.name}/alerts")
            page.click("#targets a[href$='kind=webhook']")
            page.fill("#target-form input[name=name]", "from-chromium")
            page.fill("#target-form input[name=url]", hook.url)
            page.fill("#target-form input[name=secret]", "browser-secret")
            page.click("#target-form button[type=submit]")
            expect(page).to_have_url(f"{alerts_console.url}/p/{p.name}/alerts")
            row = page.locator('tr.target[data-name="from-chromium"]')
            expect(row.locator("td.target-state")).to_have_text("enabled")
            upload(alerts_console, p, fingerprint=_fp())
            (req,) = hook.wait(1)
            assert req.headers[SIGNATURE] == sign("browser-secret", req.body)
            deadline = time.monotonic() + 20
            sent = page.locator('tr.delivery[data-target="from-chromium"][data-state="sent"]')
            while sent.count() == 0 and time.monotonic() < deadline:
                time.sleep(0.3)
                page.reload()
            expect(sent).to_have_count(1)
            row.locator("button", has_text="Disable").click()
            expect(row.locator("td.target-state")).to_have_text("disabled")
            page.screenshot(path=str(tmp_path / "alerts.png"), full_page=True)
        finally:
            browser.close()


def test_a_config_file_target_says_where_it_came_from(tmp_path: Path) -> None:
    server = make_server("sqlite", tmp_path / "coronerd", None, **ALERTING)
    engine = make_engine(server.database_url)
    upgrade(engine)  # the project must exist before coronerd reads [[alerts]] naming it
    engine.dispose()
    p = server.project("cfg")
    server.config.write_text(
        server.config.read_text()
        + f'\n[[alerts]]\nproject = "{p.name}"\nname = "ops"\nkind = "webhook"\n'
        'url = "http://127.0.0.1:9/ops"\nsecret = "file-secret-7"\n'
    )
    server.start()
    try:
        client = _admin(server)
        html = _page(client, p)
        assert re.search(r'data-name="ops">.*?<td>config file</td>', html, re.S)
        assert "file-secret-7" not in html and "from_config" not in html
        form = client.get(f"/p/{p.name}/alerts/t/ops").text
        assert "next start-up replaces it" in form and "file-secret-7" not in form
        assert (
            _create(client, p, "webhook", name="mine", url="http://127.0.0.1:9/").status_code == 303
        )
        assert re.search(r'data-name="mine">.*?<td>console / API</td>', _page(client, p), re.S)
    finally:
        server.kill()
