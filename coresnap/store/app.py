"""coronerd's FastAPI application: wiring only (settings → engine, blobs, routes, errors)."""

from __future__ import annotations

from fastapi import FastAPI

from coresnap import __version__
from coresnap.store.blobs import open_blobs
from coresnap.store.config import StoreConfig
from coresnap.store.db.engine import make_engine, upgrade
from coresnap.store.routes import Context, errors, groups, health, objects, query


def create_app(config: StoreConfig, migrate: bool = True) -> FastAPI:
    """The app serving ``config``'s store; upgrades the schema first unless ``migrate`` is off."""
    engine = make_engine(config.database_url)
    if migrate:
        upgrade(engine)
    app = FastAPI(
        title="coronerd",
        version=__version__,
        description="The coresnap object store: snapshots in, groups and queries out.",
    )
    app.state.context = Context(config, engine, open_blobs(config))
    for module in (health, objects, query, groups):
        app.include_router(module.router)
    errors.install(app)
    return app
