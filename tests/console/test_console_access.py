"""Sign-in, sessions, CSRF and per-project access of the console, over SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import time
import uuid

import httpx
import pytest
from sqlalchemy import select, update

from coresnap.store.db.engine import make_engine, writing
from coresnap.store.db.models import group_events, groups, projects, sessions
from tests.console.console_server import PASSWORD, Server, add_user, csrf_of, sign_in, upload
from tests.store.store_snapshots import group_key

BUG = "d1" * 32  # a make_snapshot seed, and coronerd's key of its group:
FP = group_key(fingerprint=BUG)


def _name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def test_wrong_password_is_refused_and_right_one_opens_a_session(console_store: Server) -> None:
    p = console_store.project()
    name = add_user(console_store, _name("u"), [p.name])
    client = httpx.Client(base_url=console_store.url)
    page = client.get("/login")
    assert page.status_code == 200
    for wrong in ("wrong password", PASSWORD + "x", ""):
        r = client.post(
            "/login", data={"name": name, "password": wrong, "csrf": csrf_of(page.text)}
        )
        assert r.status_code == 401, wrong
        assert "coresnap_session" not in r.cookies
        assert "wrong user name or password" in r.text
        page = r
    r = client.post(
        "/login", data={"name": "nobody", "password": PASSWORD, "csrf": csrf_of(page.text)}
    )
    assert r.status_code == 401
    page = client.get("/login")
    r = client.post("/login", data={"name": name, "password": PASSWORD, "csrf": csrf_of(page.text)})
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "coresnap_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    page = client.get(f"/p/{p.name}")
    assert page.status_code == 200
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'none'
    # Only the token's SHA-256 is stored, never the token itself.
    token = client.cookies["coresnap_session"]
    engine = make_engine(console_store.database_url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(select(sessions.c.hash)).scalars().all()
    finally:
        engine.dispose()
    assert token not in stored and len(stored) >= 1


def test_pages_need_a_session_and_sign_in_needs_its_csrf_token(console_store: Server) -> None:
    p = console_store.project()
    anonymous = httpx.Client(base_url=console_store.url)
    r = anonymous.get(f"/p/{p.name}")
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/p/")
    name = add_user(console_store, _name("u"), [p.name])
    r = anonymous.post("/login", data={"name": name, "password": PASSWORD})
    assert r.status_code == 403
    assert "coresnap_session" not in r.cookies


def test_a_user_of_one_project_gets_404_on_another(console_store: Server) -> None:
    mine, theirs = console_store.project("a"), console_store.project("b")
    own_oid = upload(console_store, mine, fingerprint=BUG)
    other_oid = upload(console_store, theirs, fingerprint=BUG)
    client = sign_in(console_store, add_user(console_store, _name("u"), [mine.name]))
    index = client.get("/")
    assert mine.name in index.text and theirs.name not in index.text
    for project, oid, want in ((mine, own_oid, 200), (theirs, other_oid, 404)):
        for path in (
            f"/p/{project.name}",
            f"/p/{project.name}/g/{FP}",
            f"/p/{project.name}/o/{oid}",
            f"/p/{project.name}/o/{oid}/snapshot",
        ):
            assert client.get(path).status_code == want, path
    # A project that does not exist answers exactly like one that is not yours.
    missing = client.get("/p/nosuchproject")
    forbidden = client.get(f"/p/{theirs.name}")
    assert missing.status_code == forbidden.status_code == 404
    # Another project's object through this project's URL is not found either.
    assert client.get(f"/p/{mine.name}/o/{other_oid}").status_code == 404
    # The CSRF-checked state change of another project's group is a 404 too.
    page = client.get(f"/p/{mine.name}/g/{FP}")
    r = client.post(
        f"/p/{theirs.name}/g/{FP}/state", data={"state": "resolved", "csrf": csrf_of(page.text)}
    )
    assert r.status_code == 404
    admin = sign_in(console_store, add_user(console_store, _name("root"), [], admin=True))
    assert admin.get(f"/p/{theirs.name}/o/{other_oid}").status_code == 200


def test_state_changes_need_the_session_csrf_token(console_store: Server) -> None:
    p = console_store.project()
    upload(console_store, p, fingerprint=BUG, version="1.0")
    name = add_user(console_store, _name("u"), [p.name])
    client = sign_in(console_store, name)
    page = client.get(f"/p/{p.name}/g/{FP}")
    token = csrf_of(page.text)
    url = f"/p/{p.name}/g/{FP}/state"
    assert client.post(url, data={"state": "resolved"}).status_code == 403
    assert client.post(url, data={"state": "resolved", "csrf": "x" * 43}).status_code == 403
    # Another session's token does not do either.
    other = sign_in(console_store, name)
    other_token = csrf_of(other.get(f"/p/{p.name}/g/{FP}").text)
    assert other_token != token
    assert client.post(url, data={"state": "resolved", "csrf": other_token}).status_code == 403
    engine = make_engine(console_store.database_url)
    try:
        with engine.connect() as conn:
            q = (
                select(groups.c.id, groups.c.state)
                .join(projects, projects.c.id == groups.c.project_id)
                .where(groups.c.fingerprint == FP, projects.c.name == p.name)
            )
            row = conn.execute(q).first()
            assert row is not None and row.state == "open"
        r = client.post(url, data={"state": "resolved", "csrf": token})
        assert r.status_code == 303
        with engine.connect() as conn:
            assert conn.execute(select(groups.c.state).where(groups.c.id == row.id)).scalar() == (
                "resolved"
            )
            events = conn.execute(
                select(group_events.c.action, group_events.c.by, group_events.c.detail).where(
                    group_events.c.group_id == row.id
                )
            ).all()
    finally:
        engine.dispose()
    assert [tuple(e) for e in events] == [("resolve", name, "version 1.0")]
    page = client.get(f"/p/{p.name}/g/{FP}")
    assert "resolve" in page.text and name in page.text


def test_sign_out_deletes_the_session(console_store: Server) -> None:
    p = console_store.project()
    client = sign_in(console_store, add_user(console_store, _name("u"), [p.name]))
    token = client.cookies["coresnap_session"]
    page = client.get(f"/p/{p.name}")
    assert client.post("/logout", data={}).status_code == 403
    r = client.post("/logout", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 303
    replay = httpx.Client(base_url=console_store.url, cookies={"coresnap_session": token})
    r = replay.get(f"/p/{p.name}")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_sessions_expire_and_cookies_are_secure_behind_https(console_store: Server) -> None:
    p = console_store.project()
    name = add_user(console_store, _name("u"), [p.name])
    client = httpx.Client(base_url=console_store.url)
    https = {"X-Forwarded-Proto": "https"}  # uvicorn trusts it from loopback (a TLS proxy)
    page = client.get("/login", headers=https)
    assert "Secure" in page.headers["set-cookie"]
    # The client (rightly) keeps a Secure cookie off plain http: hand it over as the proxy would.
    client = httpx.Client(
        base_url=console_store.url, cookies={"coresnap_login": page.cookies["coresnap_login"]}
    )
    r = client.post(
        "/login",
        data={"name": name, "password": PASSWORD, "csrf": csrf_of(page.text)},
        headers=https,
    )
    assert r.status_code == 303 and "Secure" in r.headers["set-cookie"]
    token = r.cookies["coresnap_session"]
    plain = httpx.Client(base_url=console_store.url, cookies={"coresnap_session": token})
    assert plain.get(f"/p/{p.name}").status_code == 200
    engine = make_engine(console_store.database_url)
    try:
        with writing(engine.connect()) as conn, conn.begin():
            conn.execute(
                update(sessions)
                .where(sessions.c.hash == hashlib.sha256(token.encode()).hexdigest())
                .values(expires=time.time() - 1)
            )
    finally:
        engine.dispose()
    assert plain.get(f"/p/{p.name}").status_code == 303


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "/\\evil.example", "https://evil.example/", "/\t/evil.example"]
)
def test_sign_in_never_redirects_to_another_site(console_store: Server, target: str) -> None:
    p = console_store.project()
    name = add_user(console_store, _name("u"), [p.name])
    client = httpx.Client(base_url=console_store.url)
    page = client.get("/login", params={"next": target})
    assert 'name="next" value="/"' in page.text
    r = client.post(
        "/login",
        data={"name": name, "password": PASSWORD, "csrf": csrf_of(page.text), "next": target},
    )
    assert r.status_code == 303 and r.headers["location"] == "/"
    page = client.get("/login", params={"next": f"/p/{p.name}"})
    assert f'name="next" value="/p/{p.name}"' in page.text


def test_repeated_wrong_passwords_are_throttled(console_store: Server) -> None:
    p = console_store.project()
    name = add_user(console_store, _name("u"), [p.name])
    client = httpx.Client(base_url=console_store.url)
    codes = []
    for _ in range(11):
        page = client.get("/login")
        form = {"name": name, "password": "not it", "csrf": csrf_of(page.text)}
        codes.append(client.post("/login", data=form).status_code)
    assert codes == [401] * 10 + [429]
    page = client.get("/login")
    form = {"name": name, "password": PASSWORD, "csrf": csrf_of(page.text)}
    assert client.post("/login", data=form).status_code == 429  # even the right one, for now
    # Another user from the same address is not locked out.
    other = add_user(console_store, _name("v"), [p.name])
    assert sign_in(console_store, other).get(f"/p/{p.name}").status_code == 200
