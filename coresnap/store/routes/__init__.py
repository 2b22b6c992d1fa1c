"""HTTP routes, one module per resource, and what they share: the store context, auth, bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from coresnap.errors import AuthError, PayloadTooLarge
from coresnap.store import auth
from coresnap.store.blobs import BlobStore
from coresnap.store.budget import Budget
from coresnap.store.config import StoreConfig
from coresnap.store.queryslots import QuerySlots

API = "/api/v1"


@dataclass
class Context:
    """What every route needs: the settings, the database engine, the blob store, the
    decompression budget uploads share and the slots queries share."""

    config: StoreConfig
    engine: Engine
    blobs: BlobStore
    budget: Budget
    queries: QuerySlots


def context(request: Request) -> Context:
    ctx: Context = request.app.state.context
    return ctx


Ctx = Annotated[Context, Depends(context)]


async def query_slot(request: Request) -> AsyncIterator[None]:
    """Hold one of the query slots for the request (raises QueriesBusy when none frees up):
    a dependency of every route whose cost the client chooses (coresnap.store.queryslots)."""
    async with context(request).queries.hold():
        yield


def token_of(request: Request) -> str | None:
    """The token of a request: ``X-Coroner-Token``, or ``Authorization: Bearer <token>``."""
    token = request.headers.get("x-coroner-token")
    if token:
        return token
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def grant(ctx: Context, request: Request, project: str, scope: str) -> auth.Grant:
    """Check the request's token for ``scope`` on ``project`` (raises AuthError)."""
    with ctx.engine.connect() as conn:
        return auth.check(conn, project, token_of(request), scope)


async def read_body(request: Request, limit: int, what: str = "request body") -> bytes:
    """The request body, refusing (PayloadTooLarge) as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(what, limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(what, limit)
        chunks.append(chunk)
    return b"".join(chunks)


__all__ = [
    "API",
    "AuthError",
    "Context",
    "Ctx",
    "context",
    "grant",
    "query_slot",
    "read_body",
    "token_of",
]
