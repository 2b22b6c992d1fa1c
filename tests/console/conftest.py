"""Fixtures: a real coronerd per database (SQLite and PostgreSQL) for the console tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.console.console_server import Server
from tests.store.coronerd_server import fresh_pg_database, make_server


@pytest.fixture(scope="session")
def console_pg_url() -> Iterator[str]:
    with fresh_pg_database() as url:
        yield url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def console_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A running coronerd (storage sampling off: every snapshot kept) over each database."""
    kind = request.param
    pg = request.getfixturevalue("console_pg_url") if kind == "postgresql" else None
    server = make_server(
        kind, tmp_path_factory.mktemp(f"console-{kind}"), pg, sampling={"first": -1}
    )
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="session")
def sqlite_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A running coronerd over SQLite only (for the browser tests)."""
    server = make_server("sqlite", tmp_path_factory.mktemp("browser"), None, sampling={"first": -1})
    server.start()
    try:
        yield server
    finally:
        server.kill()
