"""The web console: server-rendered pages over the store (sign-in, project, group, object).

Pages live under ``/`` (``/login``, ``/p/<project>``, ``/p/<project>/g/<fingerprint>``,
``/p/<project>/o/<object>``, ``/p/<project>/alerts``), assets under ``/static``; the API stays
under ``/api/v1``.
No JavaScript is needed to read anything; docs/console.md describes every page.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from coresnap.store.console import alerts_pages, group, project, signin, snapshot, web


def mount(app: FastAPI) -> None:
    """Add the console's pages, static files and error pages to coronerd's app."""
    for module in (signin, project, group, snapshot, alerts_pages):
        app.include_router(module.router, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=str(web.HERE / "static")), name="static")
    web.install(app)
