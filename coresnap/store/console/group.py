"""The group page (callstack, evidence, breakdowns, chart, objects, history) and its state."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from coresnap.analysis import document
from coresnap.errors import StoreError
from coresnap.store import aggregate, grouping
from coresnap.store.console import charts, crashsite, data, snapshot, web
from coresnap.store.db.engine import writing
from coresnap.store.db.models import groups

router = APIRouter()


def _group(request: Request, pid: int, fingerprint: str) -> dict[str, Any]:
    with web.context(request).engine.connect() as conn:
        try:
            g = dict(grouping.group_row(conn, pid, fingerprint))
        except StoreError as e:
            raise web.PageError(404, f"no group {fingerprint[:80]!r}") from e
        if g["merged_into"] is not None:
            q = select(groups.c.fingerprint).where(groups.c.id == g["merged_into"])
            g["merged_into_fingerprint"] = conn.execute(q).scalar()
    return g


@router.get(
    "/p/{project}/g/{fingerprint}",
    response_class=HTMLResponse,
    dependencies=[Depends(web.query_slot)],
)
def group_page(request: Request, project: str, fingerprint: str, page: int = 0) -> Response:
    user = web.signed_in(request)
    pid = web.project_of(request, user, project)
    ctx = web.context(request)
    g = _group(request, pid, fingerprint)
    if g.get("merged_into_fingerprint"):
        target = f"/p/{project}/g/{g['merged_into_fingerprint']}"
        return RedirectResponse(target, status_code=303)
    gid = int(g["id"])
    # The chart spans the group's life (at least an hour), not the default 30 days.
    now = time.time()
    window = aggregate.clamp_window(
        (min(float(g["first_seen"]), now - 3600), max(now, float(g["last_seen"]))), now
    )
    hist = data.group_histogram(ctx.engine, pid, gid, window, 60)
    start, end = (web.templates.env.filters["when"](t) for t in window)
    breakdowns = data.breakdowns(ctx.engine, pid, [], None, group_id=gid)
    objects, n_objects = data.group_objects(ctx.engine, pid, gid, max(page, 0))
    events, tickets = data.history(ctx.engine, gid)
    snap = data.snapshot(
        ctx.blobs, data.representative(ctx.engine, pid, gid), ctx.config["limits.max_snapshot"]
    )
    return web.render(
        request,
        "group.html",
        user,
        project=project,
        g=g,
        chart=charts.timechart(hist, start, end),
        breakdowns={
            k: {**b, "bars": charts.bars(b["values"], b["total"])} for k, b in breakdowns.items()
        },
        objects=objects,
        n_objects=n_objects,
        page=max(page, 0),
        page_size=data.PAGE,
        events=events,
        tickets=tickets,
        snap=snap,
        crashed=_crashed(snap),
        notes=snapshot.annotations_by_frame(snap),
        site=crashsite.crash_site(snap),
    )


def _crashed(snap: dict[str, Any] | None) -> dict[str, Any] | None:
    """The thread the group page shows: the crashed one, else the first."""
    if not snap:
        return None
    threads = document.threads(snap)
    return document.crashed_thread(snap) or (threads[0] if threads else None)


@router.post("/p/{project}/g/{fingerprint}/state")
def change_state(
    request: Request,
    project: str,
    fingerprint: str,
    state: Annotated[str, Form(max_length=16)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    user = web.signed_in(request)
    pid = web.project_of(request, user, project)
    web.check_csrf(user, csrf)
    if state not in grouping.STATES:
        raise web.PageError(404, f"no state {state[:20]!r}")
    _group(request, pid, fingerprint)
    with writing(web.context(request).engine.connect()) as conn, conn.begin():
        grouping.set_state(conn, pid, fingerprint, state, user.name, None)
    return RedirectResponse(f"/p/{project}/g/{fingerprint}", status_code=303)
