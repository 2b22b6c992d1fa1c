"""Fixtures for the privacy tests: one real coronerd (SQLite, every blob kept) on loopback."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The kernel hook, the daemon, the store and the console helpers of the other test directories.
_TESTS = Path(__file__).resolve().parents[1]
for _name in ("capture", "daemon", "store", "console"):
    if str(_TESTS / _name) not in sys.path:
        sys.path.insert(0, str(_TESTS / _name))

from coronerd_server import Server, make_server  # noqa: E402


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = make_server("sqlite", tmp_path_factory.mktemp("privacy-store"), None,
                         sampling={"first": -1})  # fmt: skip
    server.start()
    try:
        yield server
    finally:
        server.kill()
