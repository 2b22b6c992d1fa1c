"""The object page (the snapshot viewer) and its downloads: raw snapshot, attachments."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from coresnap.errors import ObjectNotFound, StoreError
from coresnap.store import catalog, ingest
from coresnap.store.console import crashsite, data, web

router = APIRouter()


def _describe(request: Request, project: str, oid: str) -> tuple[int, dict[str, Any]]:
    user = web.signed_in(request)
    pid = web.project_of(request, user, project)
    try:
        clean = ingest.normalize_oid(oid)
        return pid, catalog.describe(web.context(request).engine, pid, project, clean)
    except StoreError as e:
        raise web.PageError(404, f"no object {oid[:80]!r}") from e


@router.get("/p/{project}/o/{oid}", response_class=HTMLResponse)
def object_page(request: Request, project: str, oid: str) -> Response:
    user = web.signed_in(request)
    _, info = _describe(request, project, oid)
    ctx = web.context(request)
    key = info["blob_key"] if info["blob_kept"] else None
    snap = data.snapshot(ctx.blobs, key, ctx.config["limits.max_snapshot"])
    return web.render(
        request,
        "object.html",
        user,
        project=project,
        info=info,
        snap=snap,
        folded=fold_threads(snap["threads"]) if snap else [],
        notes=annotations_by_frame(snap),
        site=crashsite.crash_site(snap),
    )


def fold_threads(threads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Threads with identical stacks folded into one entry with a count; the crashed first."""
    folded: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
    for t in sorted(threads, key=lambda t: not t.get("crashed")):
        stack = tuple((f.get("function"), f.get("module_offset")) for f in t.get("frames") or [])
        key = ("crashed", t.get("tid")) if t.get("crashed") else stack
        entry = folded.setdefault(key, {"thread": t, "tids": []})
        entry["tids"].append(t.get("tid"))
    return list(folded.values())


def annotations_by_frame(
    snap: dict[str, Any] | None,
) -> dict[tuple[int, int], list[dict[str, Any]]]:
    """Annotations by (thread, frame), so each shows next to the frame it names."""
    out: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for a in (snap or {}).get("annotations") or []:
        where = (a.get("thread"), a.get("frame")) if isinstance(a, dict) else None
        # A frame is named by (tid, index): integers; any other value names no frame.
        if where is not None and all(isinstance(x, int) for x in where):
            out.setdefault(where, []).append(a)  # type: ignore[arg-type]
    return out


@router.get("/p/{project}/o/{oid}/snapshot")
def download(request: Request, project: str, oid: str) -> Response:
    _, info = _describe(request, project, oid)
    data_ = web.context(request).blobs.get(info["blob_key"]) if info["blob_kept"] else None
    if data_ is None:
        raise web.PageError(404, "this object's snapshot was not kept (storage sampling)")
    name = f"{info['object']}.snap"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(data_, media_type="application/zstd", headers=headers)


@router.get("/p/{project}/o/{oid}/a/{name}")
def attachment(request: Request, project: str, oid: str, name: str) -> Response:
    pid, info = _describe(request, project, oid)
    try:
        kind, body = catalog.attachment(web.context(request), pid, project, info["object"], name)
    except ObjectNotFound as e:
        raise web.PageError(404, f"no attachment {name[:80]!r}") from e
    del kind  # served as bytes to download, never rendered: it could be HTML or SVG
    headers = catalog.download_headers(name)
    return Response(body, media_type=headers.pop("Content-Type"), headers=headers)
