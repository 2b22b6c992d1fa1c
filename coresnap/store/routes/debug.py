"""Debug files: upload the ELF debug file of a build id, list a project's debug files."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from coresnap.errors import AuthError
from coresnap.store import auth, debugfiles
from coresnap.store.db.engine import reading
from coresnap.store.routes import API, Context, Ctx, read_body, token_of

router = APIRouter(prefix=API + "/projects/{project}/symbols", tags=["symbols"])


def _granted(ctx: Context, request: Request, project: str, scopes: tuple[str, ...]) -> auth.Grant:
    """The grant of the request's token if it has one of ``scopes`` (raises AuthError: the
    first scope's refusal when it has none)."""
    refused: AuthError | None = None
    with reading(ctx.engine.connect()) as conn:
        for scope in scopes:
            try:
                return auth.check(conn, project, token_of(request), scope)
            except AuthError as e:
                if e.status != 403:
                    raise
                refused = refused or e
    assert refused is not None
    raise refused


@router.put(
    "/{build_id}",
    status_code=201,
    summary="Upload the ELF debug file of a build id (an unstripped executable or a .debug file); "
    "a token with submit or admin scope; ?name= names it",
)
async def put_debug_file(
    project: str, build_id: str, request: Request, ctx: Ctx, name: str = "debug"
) -> dict[str, Any]:
    g = await run_in_threadpool(_granted, ctx, request, project, ("submit", "admin"))
    debugfiles.check_build_id(build_id)
    body = await read_body(request, ctx.config["limits.max_debug_file"], "debug file")
    return await run_in_threadpool(
        debugfiles.put, ctx.engine, ctx.blobs, (g.project_id, g.project), build_id, name, body
    )


@router.get("", summary="The project's debug files: build id, name, size, upload time")
def list_debug_files(project: str, request: Request, ctx: Ctx) -> dict[str, Any]:
    g = _granted(ctx, request, project, ("read", "submit", "admin"))
    with reading(ctx.engine.connect()) as conn:
        return {"project": project, "debug_files": debugfiles.listing(conn, g.project_id)}
