"""Liveness: answers when the process serves and its database answers."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from coresnap import __version__
from coresnap.store.routes import API, Ctx

router = APIRouter(prefix=API, tags=["health"])


@router.get("/health", summary="Liveness and database check")
def get_health(ctx: Ctx) -> dict[str, str]:
    with ctx.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return {"status": "ok", "version": __version__, "database": ctx.engine.dialect.name}
