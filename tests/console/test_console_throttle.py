"""The sign-in throttle against a real coronerd: spraying one address's guesses across names,
many addresses guessing one name, device cookies that keep the user's own browser signing in
through such a spray, and counts two coronerd processes on one database share (issue 13).

coronerd (uvicorn) takes the client address from X-Forwarded-For when the request comes from
loopback, so each test speaks from addresses of its own and leaves 127.0.0.1's counts alone.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import httpx
import pytest

from coresnap.store.console import throttle
from coresnap.store.console.throttle import ADDRESS, DEVICE, DEVICE_COOKIE, NAME, PAIR, address_key
from coresnap.store.db.engine import make_engine, upgrade, writing
from tests.console.console_server import PASSWORD, Server, add_user, csrf_of
from tests.store.coronerd_server import make_server


def _attempt(server: Server, address: str, name: str, password: str = "not it") -> int:
    """One sign-in from a new browser (no cookies)."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        return _attempt_with(client, address, name, password)


def _attempt_with(client: httpx.Client, address: str, name: str, password: str = "not it") -> int:
    """One sign-in from ``client``'s browser (its cookies: a device cookie, once signed in)."""
    client.cookies.delete("coresnap_session")
    page = client.get("/login", headers={"X-Forwarded-For": address})
    form = {"name": name, "password": password, "csrf": csrf_of(page.text)}
    reply = client.post("/login", data=form, headers={"X-Forwarded-For": address})
    return reply.status_code


def _net() -> str:
    return f"198.18.{secrets.randbelow(250)}"


def test_spraying_names_from_one_address_is_throttled(console_store: Server) -> None:
    p = console_store.project()
    real = add_user(console_store, f"real{secrets.token_hex(4)}", [p.name])
    address = f"{_net()}.{secrets.randbelow(250) + 1}"
    codes = [
        _attempt(console_store, address, f"n{i}{secrets.token_hex(3)}") for i in range(ADDRESS)
    ]
    assert codes == [401] * ADDRESS
    assert _attempt(console_store, address, f"new{secrets.token_hex(3)}") == 429
    assert _attempt(console_store, address, real, PASSWORD) == 429  # the address waits
    assert _attempt(console_store, f"{_net()}.7", real, PASSWORD) == 303  # others do not


def test_guessing_one_name_from_many_addresses_is_throttled(console_store: Server) -> None:
    p = console_store.project()
    victim = add_user(console_store, f"victim{secrets.token_hex(4)}", [p.name])
    net = _net()
    codes = [_attempt(console_store, f"{net}.{i + 1}", victim) for i in range(NAME)]
    assert codes == [401] * NAME
    assert _attempt(console_store, f"{_net()}.99", victim) == 429


def test_a_browser_that_signed_in_passes_a_spray_against_its_user(console_store: Server) -> None:
    """The device cookie (OWASP): many addresses guessing a user's password lock out the
    browsers that never signed in as that user, not the user's own (before: 429 for all)."""
    p = console_store.project()
    victim = add_user(console_store, f"victim{secrets.token_hex(4)}", [p.name])
    with httpx.Client(base_url=console_store.url, timeout=30) as own:
        assert _attempt_with(own, f"{_net()}.5", victim, PASSWORD) == 303
        device = own.cookies.get(DEVICE_COOKIE)
        assert device
        net = _net()
        codes = [_attempt(console_store, f"{net}.{i + 1}", victim) for i in range(NAME)]
        assert codes == [401] * NAME
        assert _attempt(console_store, f"{_net()}.9", victim, PASSWORD) == 429  # no cookie
        assert _attempt_with(own, f"{_net()}.5", victim, PASSWORD) == 303  # the user's browser
        assert own.cookies.get(DEVICE_COOKIE) not in (None, device)  # replaced at each sign-in


def test_a_device_cookie_is_its_users_only_and_has_its_own_limit(console_store: Server) -> None:
    p = console_store.project()
    alice = add_user(console_store, f"alice{secrets.token_hex(4)}", [p.name])
    bob = add_user(console_store, f"bob{secrets.token_hex(4)}", [p.name])
    address = f"{_net()}.3"
    with httpx.Client(base_url=console_store.url, timeout=30) as browser:
        assert _attempt_with(browser, address, alice, PASSWORD) == 303
        # alice's cookie does not exempt guesses at bob's name from the address's pair count
        assert [_attempt_with(browser, address, bob) for _ in range(PAIR)] == [401] * PAIR
        assert _attempt_with(browser, address, bob, PASSWORD) == 429
        # guesses with alice's cookie count against the cookie: a stolen one guesses slowly
        assert [_attempt_with(browser, address, alice) for _ in range(DEVICE)] == [401] * DEVICE
        assert _attempt_with(browser, address, alice, PASSWORD) == 429


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_two_processes_on_one_database_share_the_counts(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Failures are rows of the database: guesses split across two coronerd processes count
    together (before: each process counted its own, and PAIR guesses became 2 x PAIR)."""
    pg = request.getfixturevalue("console_pg_url") if kind == "postgresql" else None
    first = make_server(kind, tmp_path / "one", pg)
    second = Server(kind, tmp_path / "two", first.config, first.database_url)
    (tmp_path / "two").mkdir()
    first.start()
    try:
        second.start()
        p = first.project()
        user = add_user(first, f"shared{secrets.token_hex(4)}", [p.name])
        address = f"{_net()}.4"
        codes = [_attempt(s, address, user) for _ in range(PAIR // 2) for s in (first, second)]
        assert codes == [401] * PAIR
        assert _attempt(first, address, user, PASSWORD) == 429
        assert _attempt(second, address, user, PASSWORD) == 429
    finally:
        second.kill()
        first.kill()


def test_ipv6_counts_per_64() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:ffff::9")
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.5") == "192.0.2.5"


def test_a_flood_of_keys_does_not_reset_a_count(tmp_path: Path) -> None:
    """No key is forgotten before its window ends, however many others fail."""
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    alice = throttle.Attempt("192.0.2.1", "alice")
    with writing(engine.connect()) as conn, conn.begin():
        for _ in range(PAIR):
            throttle.failed(conn, alice)
        for i in range(3_000):
            throttle.failed(conn, throttle.Attempt(f"10.0.{i >> 8 & 255}.{i & 255}", f"r{i}"))
    with engine.connect() as conn:
        assert throttle.blocked(conn, alice)
        assert not throttle.blocked(conn, throttle.Attempt("192.0.2.2", "alice"))
    engine.dispose()
