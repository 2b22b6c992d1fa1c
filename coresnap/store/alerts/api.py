"""Alert targets over HTTP: list / create / change / delete, and recent deliveries.

Reading needs a ``read`` token (secrets are shown as ``********``); changing needs an ``admin``
token: a target holds credentials and decides where crash data goes.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from coresnap.store.alerts import targets
from coresnap.store.db.engine import writing
from coresnap.store.routes import API, Ctx, grant

router = APIRouter(prefix=API + "/projects/{project}/alerts", tags=["alerts"])

Kind = Literal["slack", "jira", "webhook", "email"]
Event = Literal["new-group", "regression", "threshold"]


class TargetIn(BaseModel):
    """An alert target; ``settings`` holds the kind's keys (docs/alerts.md)."""

    name: str = Field(max_length=64)
    kind: Kind
    settings: dict[str, Any] = Field(default_factory=dict)
    events: list[Event] | None = None
    filter: list[str | dict[str, Any]] = Field(default_factory=list, max_length=32)
    threshold: int | None = Field(default=None, ge=1)
    threshold_period: str | float | None = Field(default=None, description="seconds or 1h, 1d")
    min_interval: str | float = Field(default=0.0, description="seconds or 10m, 1h")
    enabled: bool = True


class TargetChange(BaseModel):
    """Keys to change; ``settings`` are merged key by key (``null`` removes a key)."""

    settings: dict[str, Any] | None = None
    events: list[Event] | None = None
    filter: list[str | dict[str, Any]] | None = Field(default=None, max_length=32)
    threshold: int | None = Field(default=None, ge=1)
    threshold_period: str | float | None = None
    min_interval: str | float | None = None
    enabled: bool | None = None


@router.get("", summary="The project's alert targets (secrets hidden)")
def list_targets(project: str, request: Request, ctx: Ctx) -> dict[str, Any]:
    g = grant(ctx, request, project, "read")
    with ctx.engine.connect() as conn:
        found = targets.list_targets(conn, g.project_id)
    return {"targets": [targets.redacted(t) for t in found]}


@router.post("", status_code=201, summary="Add an alert target (admin token)")
def create_target(project: str, body: TargetIn, request: Request, ctx: Ctx) -> dict[str, Any]:
    g = grant(ctx, request, project, "admin")
    with writing(ctx.engine.connect()) as conn, conn.begin():
        spec = targets.create(conn, g.project_id, body.model_dump(exclude_none=True))
    return targets.redacted(spec)


@router.get("/deliveries", summary="Recent deliveries, newest first (state=failed: failures)")
def list_deliveries(
    project: str,
    request: Request,
    ctx: Ctx,
    state: Literal["pending", "sent", "failed"] | None = None,
    target: str | None = Query(default=None, max_length=64),
    limit: int = Query(default=50, ge=1, le=1000),
) -> dict[str, Any]:
    g = grant(ctx, request, project, "read")
    with ctx.engine.connect() as conn:
        rows = targets.deliveries(conn, g.project_id, state, target, limit)
    return {"deliveries": rows}


@router.get("/{name}", summary="One alert target (secrets hidden)")
def get_target(project: str, name: str, request: Request, ctx: Ctx) -> dict[str, Any]:
    g = grant(ctx, request, project, "read")
    with ctx.engine.connect() as conn:
        return targets.redacted(targets.get(conn, g.project_id, project, name))


@router.patch("/{name}", summary="Change an alert target (admin token)")
def change_target(
    project: str, name: str, body: TargetChange, request: Request, ctx: Ctx
) -> dict[str, Any]:
    g = grant(ctx, request, project, "admin")
    changes = body.model_dump(exclude_unset=True)
    with writing(ctx.engine.connect()) as conn, conn.begin():
        spec = targets.update_target(conn, g.project_id, project, name, changes)
    return targets.redacted(spec)


@router.delete("/{name}", status_code=204, summary="Remove an alert target (admin token)")
def delete_target(project: str, name: str, request: Request, ctx: Ctx) -> Response:
    g = grant(ctx, request, project, "admin")
    with writing(ctx.engine.connect()) as conn, conn.begin():
        targets.delete_target(conn, g.project_id, project, name)
    return Response(status_code=204)
