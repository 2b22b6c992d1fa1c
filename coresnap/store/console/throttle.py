"""The sign-in throttle: failed sign-ins counted per (address, name), per address, per name.

Three windows of WINDOW seconds, each refusing past its limit (429):

- PAIR: one address guessing one user's password;
- ADDRESS: one address spraying guesses across many names (IPv6 counted per /64, which one
  host usually owns whole);
- NAME: many addresses guessing one user's password (a higher limit: it is also how far an
  attacker can lock a real user out, for WINDOW seconds).

Kept in this process's memory (each coronerd process counts on its own), at most KEYS keys per
counter. A full counter forgets its keys whose window is over, then, one at a time, the least
recently failed key that has few failures: never all at once, and not the key halfway to its
limit, so flooding it with new names or addresses does not reset the count of the user being
guessed (and flooding from one address is itself throttled by ADDRESS).
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable

WINDOW = 300.0
PAIR, ADDRESS, NAME = 10, 30, 50
KEYS = 10_000
_SCAN = 64


class Counter:
    """Failures per key within the last ``window`` seconds, at most ``keys`` keys."""

    def __init__(self, limit: int, window: float = WINDOW, keys: int = KEYS) -> None:
        self.limit, self.window, self.keys = limit, window, keys
        # key -> failure times, oldest first; keys ordered by their latest failure
        self._times: OrderedDict[Hashable, list[float]] = OrderedDict()

    def recent(self, key: Hashable, now: float) -> int:
        return sum(1 for t in self._times.get(key, ()) if t > now - self.window)

    def blocked(self, key: Hashable, now: float) -> bool:
        return self.recent(key, now) >= self.limit

    def add(self, key: Hashable, now: float) -> None:
        kept = [t for t in self._times.pop(key, []) if t > now - self.window][-self.limit :]
        self._times[key] = [*kept, now]
        self._expire(now)
        if len(self._times) > self.keys:
            self._evict()

    def _evict(self) -> None:
        # The least recently failed key with few failures: a key halfway to its limit (the
        # user being guessed) outlives any number of one-off keys. Among the _SCAN oldest
        # only, so that a table of hot keys still costs O(1); none cold there: the oldest.
        for i, (key, times) in enumerate(self._times.items()):
            if i >= _SCAN:
                break
            if len(times) < max(1, self.limit // 2):
                del self._times[key]
                return
        self._times.popitem(last=False)

    def forget(self, key: Hashable) -> None:
        self._times.pop(key, None)

    def _expire(self, now: float) -> None:
        while self._times:
            key, times = next(iter(self._times.items()))
            if times[-1] > now - self.window:
                return
            del self._times[key]

    def __len__(self) -> int:
        return len(self._times)


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


class Throttle:
    """The three counters behind one lock."""

    def __init__(self, keys: int = KEYS) -> None:
        self._lock = threading.Lock()
        self.pair = Counter(PAIR, keys=keys)
        self.address = Counter(ADDRESS, keys=keys)
        self.name = Counter(NAME, keys=keys)

    def blocked(self, address: str, name: str) -> bool:
        now, where = time.time(), address_key(address)
        with self._lock:
            return (
                self.pair.blocked((where, name), now)
                or self.address.blocked(where, now)
                or self.name.blocked(name, now)
            )

    def failed(self, address: str, name: str) -> None:
        now, where = time.time(), address_key(address)
        with self._lock:
            self.pair.add((where, name), now)
            self.address.add(where, now)
            self.name.add(name, now)

    def succeeded(self, address: str, name: str) -> None:
        """A right password clears that pair only (the address's and name's counts stay)."""
        with self._lock:
            self.pair.forget((address_key(address), name))
