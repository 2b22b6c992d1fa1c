"""Fixtures: a real coronerd with fast retries over SQLite and PostgreSQL (tests/store helpers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.alerts.alert_store import ALERTING
from tests.store.coronerd_server import Server, fresh_pg_database, make_server


@pytest.fixture(scope="session")
def alerts_pg_url() -> Iterator[str]:
    with fresh_pg_database() as url:
        yield url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def alerting(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """A running coronerd (alerts retried after 1 s, 2 s at most) over each database."""
    kind = request.param
    pg = request.getfixturevalue("alerts_pg_url") if kind == "postgresql" else None
    server = make_server(kind, tmp_path_factory.mktemp(f"alerts-{kind}"), pg, **ALERTING)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def sqlite_alerting(tmp_path: Path) -> Iterator[Server]:
    """A coronerd over SQLite of the test's own (for tests that restart it)."""
    server = make_server("sqlite", tmp_path / "coronerd", None, **ALERTING)
    server.start()
    try:
        yield server
    finally:
        server.kill()
