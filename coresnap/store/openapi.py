"""The HTTP contract: the OpenAPI document of the app (``docs/openapi.json`` is this, checked)."""

from __future__ import annotations

from typing import Any

from fastapi.openapi.utils import get_openapi

from coresnap import __version__
from coresnap.store.alerts import api as alerts
from coresnap.store.routes import debug, groups, health, objects, query

DESCRIPTION = "The coresnap object store: snapshots in, groups and queries out."
ROUTERS = (
    health.router,
    objects.router,
    query.router,
    groups.router,
    alerts.router,
    debug.router,
)


def document() -> dict[str, Any]:
    """The OpenAPI document, built from the routes alone (no database needed)."""
    routes = [r for router in ROUTERS for r in router.routes]
    return get_openapi(
        title="coronerd", version=__version__, description=DESCRIPTION, routes=routes
    )
