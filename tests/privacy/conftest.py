"""Fixtures for the privacy tests: one real coronerd (SQLite, every blob kept) on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

# The kernel hook, the daemon, the store and the console helpers of the other test directories.
from tests.store.coronerd_server import Server, make_server


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = make_server("sqlite", tmp_path_factory.mktemp("privacy-store"), None,
                         sampling={"first": -1})  # fmt: skip
    server.start()
    try:
        yield server
    finally:
        server.kill()
