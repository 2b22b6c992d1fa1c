"""The sign-in throttle against a real coronerd: spraying one address's guesses across names,
many addresses guessing one name, and a counter table flooded with keys (issue 13, item 6).

coronerd (uvicorn) takes the client address from X-Forwarded-For when the request comes from
loopback, so each test speaks from addresses of its own and leaves 127.0.0.1's counts alone.
"""

from __future__ import annotations

import secrets

import httpx

from coresnap.store.console.throttle import ADDRESS, NAME, PAIR, Throttle, address_key
from tests.console.console_server import PASSWORD, Server, add_user, csrf_of


def _attempt(server: Server, address: str, name: str, password: str = "not it") -> int:
    with httpx.Client(base_url=server.url, headers={"X-Forwarded-For": address}) as client:
        page = client.get("/login")
        form = {"name": name, "password": password, "csrf": csrf_of(page.text)}
        return client.post("/login", data=form).status_code


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


def test_a_flood_of_keys_does_not_reset_a_count() -> None:
    throttle = Throttle()
    for _ in range(PAIR):
        throttle.failed("192.0.2.1", "alice")
    assert throttle.blocked("192.0.2.1", "alice")
    for i in range(25_000):  # more keys than any counter holds
        throttle.failed(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", f"random{i}")
    assert throttle.blocked("192.0.2.1", "alice")
    assert len(throttle.pair) <= 10_000 and len(throttle.address) <= 10_000


def test_ipv6_counts_per_64() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:ffff::9")
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.5") == "192.0.2.5"
