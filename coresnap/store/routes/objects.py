"""Objects: upload a snapshot, download it, read its index entry, attachments."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from coresnap.errors import ObjectNotFound, StoreError
from coresnap.store import auth, catalog, ingest, metrics
from coresnap.store.db.engine import reading
from coresnap.store.routes import API, Context, Ctx, grant, read_body, token_of

router = APIRouter(prefix=API + "/projects/{project}/objects", tags=["objects"])
_ATTR_HEADER = "x-coroner-attribute"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def _extra_attributes(request: Request) -> dict[str, str]:
    extra = dict(request.query_params)
    for header in request.headers.getlist(_ATTR_HEADER):
        key, sep, value = header.partition("=")
        if not sep:
            raise StoreError(f"{_ATTR_HEADER} must be key=value", header=header[:100])
        extra[key.strip()] = value.strip()
    for key in extra:
        if not ingest.ATTRIBUTE_KEY.match(key):
            raise StoreError(f"invalid attribute name {key[:100]!r}")
    return extra


@router.post(
    "",
    status_code=201,
    summary="Upload a snapshot (zstd-compressed JSON); query parameters add attributes",
    responses={200: {"description": "already stored (idempotent retry)"}},
)
async def post_object(
    project: str, request: Request, response: Response, ctx: Ctx
) -> dict[str, Any]:
    g = await run_in_threadpool(_submitter, ctx, request, project)
    extra = _extra_attributes(request)
    body = await read_body(request, ctx.config["limits.max_body"])
    stored = await run_in_threadpool(
        ingest.store,
        ctx.engine,
        ctx.blobs,
        ctx.config,
        (g.project_id, g.project),
        body,
        extra,
        ctx.budget,
    )
    metrics.ingested(g.project, stored.created, stored.blob_kept, stored.group_created)
    response.status_code = 201 if stored.created else 200
    return {
        "object": stored.oid,
        "group": stored.group,
        "created": stored.created,
        "blob_kept": stored.blob_kept,
    }


def _submitter(ctx: Context, request: Request, project: str) -> auth.Grant:
    # grant(…, "submit") read outside a transaction: no ROLLBACK per upload (db.engine.reading)
    with reading(ctx.engine.connect()) as conn:
        return auth.check(conn, project, token_of(request), "submit")


@router.get("/{oid}", summary="Download an object's snapshot (application/zstd)")
def get_object(project: str, oid: str, request: Request, ctx: Ctx) -> Response:
    g = grant(ctx, request, project, "read")
    info = catalog.describe(ctx.engine, g.project_id, project, _oid(project, oid))
    if not info["blob_kept"]:
        raise ObjectNotFound(
            project,
            info["object"],
            "indexed, but its snapshot was not kept (storage sampling of its group)",
        )
    data = ctx.blobs.get(info["blob_key"])
    if data is None:
        raise ObjectNotFound(project, info["object"], "snapshot missing from the blob store")
    return Response(data, media_type="application/zstd")


@router.get("/{oid}/meta", summary="An object's index entry: group, times, attributes")
def get_meta(project: str, oid: str, request: Request, ctx: Ctx) -> dict[str, Any]:
    g = grant(ctx, request, project, "read")
    info = catalog.describe(ctx.engine, g.project_id, project, _oid(project, oid))
    info.pop("blob_key")
    return info


@router.put("/{oid}/attachments/{name}", status_code=201, summary="Attach a file to an object")
async def put_attachment(
    project: str, oid: str, name: str, request: Request, ctx: Ctx
) -> dict[str, Any]:
    g = await run_in_threadpool(grant, ctx, request, project, "submit")
    if not _NAME.match(name):
        raise StoreError(f"invalid attachment name {name[:100]!r}")
    body = await read_body(request, ctx.config["limits.max_attachment"], "attachment")
    kind = request.headers.get("content-type", "application/octet-stream")[:128]
    await run_in_threadpool(
        catalog.attach, ctx, g.project_id, project, _oid(project, oid), name, kind, body
    )
    return {"object": _oid(project, oid), "attachment": name, "size": len(body)}


@router.get(
    "/{oid}/attachments/{name}",
    summary="Download an attachment (always application/octet-stream, nosniff, as a file)",
)
def get_attachment(project: str, oid: str, name: str, request: Request, ctx: Ctx) -> Response:
    g = grant(ctx, request, project, "read")
    _kind, data = catalog.attachment(ctx, g.project_id, project, _oid(project, oid), name)
    headers = catalog.download_headers(name)
    return Response(data, media_type=headers.pop("Content-Type"), headers=headers)


def _oid(project: str, oid: str) -> str:
    try:
        return ingest.normalize_oid(oid)
    except StoreError as e:
        raise ObjectNotFound(project, oid[:80], "not an object id (32 hex digits)") from e
