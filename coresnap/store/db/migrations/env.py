"""Alembic environment: runs on the connection coronerd passes in ``config.attributes``."""

from __future__ import annotations

from alembic import context

from coresnap.store.db.models import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("coronerd migrations run through coresnap.store.db.engine.upgrade()")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
