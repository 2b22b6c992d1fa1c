"""The store benches' two databases: run a measurement on SQLite, then on a PostgreSQL database
of its own (tools/postgres.sh starts the server when it is down; the database is dropped after)."""

from __future__ import annotations

import os
import subprocess
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get(
    "CORESNAP_TEST_PG_ADMIN", "postgresql://coresnap_test:coresnap_test@127.0.0.1:5432/postgres"
)


def on_both(one: Callable[[str, str, Path], None], prefix: str) -> None:
    """``one(kind, database URL, work directory)`` for "sqlite", then for "postgresql"."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        one("sqlite", f"sqlite:///{tmp}/coronerd.db", Path(tmp))
    subprocess.run([str(ROOT / "tools" / "postgres.sh")], check=True)
    name = f"coresnap_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
            base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
            one("postgresql", f"{base}/{name}", Path(tmp))
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
