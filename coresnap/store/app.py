"""coronerd's FastAPI application: wiring only (settings → engine, blobs, routes, errors)."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator

from fastapi import FastAPI

from coresnap import __version__
from coresnap.store import metrics, retention
from coresnap.store.alerts import sender, targets
from coresnap.store.blobs import open_blobs
from coresnap.store.budget import Budget
from coresnap.store.config import StoreConfig
from coresnap.store.console import mount as mount_console
from coresnap.store.db.engine import make_engine, upgrade
from coresnap.store.openapi import DESCRIPTION, ROUTERS
from coresnap.store.queryslots import QuerySlots
from coresnap.store.routes import Context, errors

RETENTION_INTERVAL = 600.0
# Seconds an upload waits for its share of the decompression budget before 503 busy.
BUDGET_WAIT = 20.0
log = logging.getLogger("coronerd")


def _retention_loop(ctx: Context, stop: threading.Event) -> None:
    while not stop.wait(RETENTION_INTERVAL):
        try:
            removed = retention.apply(ctx.engine, ctx.blobs, ctx.config)
        except Exception:  # a failed pass is retried at the next interval, never fatal
            log.exception("retention pass failed")
        else:
            if removed:
                log.warning("retention: removed %d objects", removed)


def create_app(config: StoreConfig, migrate: bool = True) -> FastAPI:
    """The app serving ``config``'s store; upgrades the schema first unless ``migrate`` is off."""
    engine = make_engine(config.database_url, statement_timeout=config["limits.statement_timeout"])
    if migrate:
        upgrade(engine)
    metrics_listen = metrics.listen_address(config["metrics.listen"])
    budget = Budget(config["limits.decompress_budget"], BUDGET_WAIT)
    timeout = config["limits.statement_timeout"]
    queries = QuerySlots(
        config["limits.concurrent_queries"],
        retry_after=timeout or 1,
        wait=config["limits.query_wait"],
    )
    context = Context(config, engine, open_blobs(config), budget, queries)
    targets.sync(engine, config)  # the config file's [[alerts]]

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        if config["retention.max_age"] > 0 or config["retention.max_objects"] > 0:
            threading.Thread(target=_retention_loop, args=(context, stop), daemon=True).start()
        alerts = sender.Sender(engine, config)
        alerts.start()
        scraped = metrics.serve(metrics_listen, log) if metrics_listen else None
        yield
        stop.set()
        alerts.stop()
        if scraped:
            scraped.close()
        engine.dispose()

    docs = bool(config["server.docs"])  # Swagger UI and ReDoc load scripts from a CDN: opt-in
    app = FastAPI(
        title="coronerd",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
    )
    app.state.context = context
    for router in ROUTERS:
        app.include_router(router)
    errors.install(app)
    metrics.install(app, route=metrics_listen is None)  # else on metrics.listen only
    mount_console(app)
    return app
