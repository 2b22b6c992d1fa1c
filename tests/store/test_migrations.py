"""The Alembic migrations build exactly the tables the code declares, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from coresnap.store.db.engine import make_engine, upgrade
from coresnap.store.db.models import metadata


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_migrations_match_the_models(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        request.getfixturevalue("own_pg_url")
        if kind == "postgresql"
        else f"sqlite:///{tmp_path / 'store.db'}"
    )
    engine = make_engine(url)
    try:
        upgrade(engine)
        upgrade(engine)  # a second start-up finds nothing to do
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        engine.dispose()
