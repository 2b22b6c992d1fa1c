"""Fixtures: real coronerd servers on loopback, over SQLite and over a real PostgreSQL.

``store`` is parametrized: every test using it runs once per database. Each pytest session
(each xdist worker) creates its own PostgreSQL database (dropped at the end) and starts one
coronerd process per database; tests isolate themselves with a fresh project each.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.store.coronerd_server import Server, fresh_pg_database, make_server


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this session; its URL is also CORESNAP_TEST_PG_URL."""
    with fresh_pg_database() as url:
        os.environ["CORESNAP_TEST_PG_URL"] = url
        yield url


@pytest.fixture
def own_pg_url() -> Iterator[str]:
    """A database of the test's own, for tests whose effects span projects (retention)."""
    with fresh_pg_database() as url:
        yield url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A running coronerd with the default settings (storage sampling on) over each database."""
    kind = request.param
    pg = request.getfixturevalue("pg_url") if kind == "postgresql" else None
    server = make_server(
        kind,
        tmp_path_factory.mktemp(f"coronerd-{kind}"),
        pg,
        limits={"max_body": 1 << 20},
    )
    server.start()
    try:
        yield server
    finally:
        server.kill()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "store: tests of coronerd")
