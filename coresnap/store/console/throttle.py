"""The sign-in throttle: failed sign-ins counted in the database, and device cookies.

A failed sign-in from a browser the user has not signed in from counts three ways over the last
WINDOW seconds, each refusing the next attempt (429) past its limit:

- PAIR: one address guessing one user's password;
- ADDRESS: one address spraying guesses across many names (IPv6 counted per /64, which one
  host usually owns whole);
- NAME: many addresses guessing one user's password.

A successful sign-in gives the browser a device cookie (OWASP's "device cookies"): a random
token, its SHA-256 a row of ``signin_devices`` bound to that user. An attempt at that user's name
carrying it is not subject to the three counts above, only to its own (DEVICE failures per
WINDOW), so that guessing against a user's name (the NAME limit) or from the user's own network
(ADDRESS) does not lock out the user's browsers; an attacker has no device cookie of the user.
Every successful sign-in replaces the cookie; a user keeps at most DEVICES_PER_USER.

Counts are rows of ``signin_failures`` (a key, a time), so every coronerd process on one
database counts the same failures; rows older than WINDOW are deleted as failures are added.
No key is forgotten early: a flood of new names or addresses cannot reset a count.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, insert, select

from coresnap.store.db.models import signin_devices, signin_failures, users

WINDOW = 300.0
PAIR, ADDRESS, NAME, DEVICE = 10, 30, 50, 10
DEVICE_COOKIE = "coresnap_device"
DEVICE_LIFETIME = 365 * 86400
DEVICES_PER_USER = 20


def address_key(address: str) -> str:
    """The address counted: IPv6 by its /64, anything else as it is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Attempt:
    """One sign-in attempt: where from, which name, and the device cookie's digest when the
    browser holds a live one of that name's user."""

    address: str
    name: str
    device: str | None = None

    @property
    def pair(self) -> str:
        """The key of this address guessing this name."""
        return f"pair:{self.address}\n{self.name}"

    def limits(self) -> dict[str, int]:
        """The keys this attempt counts against, with their limits."""
        if self.device is not None:
            return {f"device:{self.device}": DEVICE}
        return {
            self.pair: PAIR,
            f"address:{self.address}": ADDRESS,
            f"name:{self.name}": NAME,
        }


def attempt(conn: Connection, address: str, name: str, cookie: str | None) -> Attempt:
    """The attempt of ``name`` from ``address`` with the browser's device ``cookie``."""
    where = address_key(address)
    if not cookie or len(cookie) > 128:
        return Attempt(where, name)
    digest = _digest(cookie)
    row = conn.execute(
        select(signin_devices.c.hash)
        .join(users, users.c.id == signin_devices.c.user_id)
        .where(
            signin_devices.c.hash == digest,
            users.c.name == name,
            signin_devices.c.expires > time.time(),
        )
    ).first()
    return Attempt(where, name, digest if row else None)


def blocked(conn: Connection, a: Attempt) -> bool:
    """Whether any of the attempt's counts is at its limit."""
    limits = a.limits()
    counts = conn.execute(
        select(signin_failures.c.key, func.count())
        .where(signin_failures.c.key.in_(limits), signin_failures.c.at > time.time() - WINDOW)
        .group_by(signin_failures.c.key)
    ).all()
    return any(n >= limits[key] for key, n in counts)


def failed(conn: Connection, a: Attempt) -> None:
    """Count a failed attempt (in a write transaction); drops rows older than the window."""
    now = time.time()
    conn.execute(insert(signin_failures), [{"key": k, "at": now} for k in a.limits()])
    conn.execute(delete(signin_failures).where(signin_failures.c.at < now - WINDOW))


def succeeded(conn: Connection, a: Attempt, user_id: int) -> str:
    """A right password (in a write transaction): clears that pair's count (the address's and
    name's stay) and returns a new device cookie, replacing the one the browser had."""
    now = time.time()
    conn.execute(delete(signin_failures).where(signin_failures.c.key == a.pair))
    if a.device is not None:
        conn.execute(delete(signin_devices).where(signin_devices.c.hash == a.device))
    conn.execute(delete(signin_devices).where(signin_devices.c.expires < now))
    token = secrets.token_urlsafe(32)
    conn.execute(
        insert(signin_devices).values(
            hash=_digest(token), user_id=user_id, created=now, expires=now + DEVICE_LIFETIME
        )
    )
    keep = (
        select(signin_devices.c.hash)
        .where(signin_devices.c.user_id == user_id)
        .order_by(signin_devices.c.created.desc())
        .limit(DEVICES_PER_USER)
    )
    conn.execute(
        delete(signin_devices).where(
            signin_devices.c.user_id == user_id, signin_devices.c.hash.not_in(keep)
        )
    )
    return token
