"""Groups: read one, change its state, merge and unmerge fingerprints."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from coresnap.store import grouping
from coresnap.store.db.engine import writing
from coresnap.store.routes import API, Context, Ctx, grant

router = APIRouter(prefix=API + "/projects/{project}/groups/{fingerprint}", tags=["groups"])


class StateIn(BaseModel):
    state: Literal["open", "resolved", "muted"]
    version: str | None = Field(default=None, max_length=128)


class MergeIn(BaseModel):
    into: str = Field(max_length=128, description="fingerprint of the group to merge into")


def _describe(ctx: Context, pid: int, fingerprint: str) -> dict[str, Any]:
    with ctx.engine.connect() as conn:
        g = grouping.group_row(conn, pid, fingerprint)
        target = None
        if g["merged_into"] is not None:
            from sqlalchemy import select

            from coresnap.store.db.models import groups

            q = select(groups.c.fingerprint).where(groups.c.id == g["merged_into"])
            target = conn.execute(q).scalar()
    keys = ("count", "first_seen", "last_seen", "state", "state_by", "state_at", "resolved_version")
    return {"fingerprint": fingerprint, "merged_into": target, **{k: g[k] for k in keys}}


@router.get("", summary="A group: counts, times, state, merge target")
def get_group(project: str, fingerprint: str, request: Request, ctx: Ctx) -> dict[str, Any]:
    g = grant(ctx, request, project, "read")
    return _describe(ctx, g.project_id, fingerprint)


@router.post("/state", summary="Set a group's state (open, resolved, muted)")
def post_state(
    project: str,
    fingerprint: str,
    body: StateIn,
    request: Request,
    ctx: Ctx,
) -> dict[str, Any]:
    g = grant(ctx, request, project, "read")
    with writing(ctx.engine.connect()) as conn, conn.begin():
        grouping.set_state(conn, g.project_id, fingerprint, body.state, g.token, body.version)
    return _describe(ctx, g.project_id, fingerprint)


@router.post("/merge", summary="Merge this fingerprint's group into another")
def post_merge(
    project: str,
    fingerprint: str,
    body: MergeIn,
    request: Request,
    ctx: Ctx,
) -> dict[str, Any]:
    g = grant(ctx, request, project, "read")
    with writing(ctx.engine.connect()) as conn, conn.begin():
        grouping.merge(conn, g.project_id, fingerprint, body.into, g.token)
    return _describe(ctx, g.project_id, fingerprint)


@router.post("/unmerge", summary="Give this fingerprint its own group again")
def post_unmerge(project: str, fingerprint: str, request: Request, ctx: Ctx) -> dict[str, Any]:
    g = grant(ctx, request, project, "read")
    with writing(ctx.engine.connect()) as conn, conn.begin():
        grouping.unmerge(conn, g.project_id, fingerprint, g.token)
    return _describe(ctx, g.project_id, fingerprint)
