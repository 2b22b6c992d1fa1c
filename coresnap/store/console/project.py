"""The project page: groups (sorted, filtered, with sparklines) and attribute breakdowns."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from coresnap.errors import QueryError
from coresnap.querylang import OPERATORS
from coresnap.store.console import charts, data, web

router = APIRouter()


@router.get("/p/{project}", response_class=HTMLResponse, dependencies=[Depends(web.query_slot)])
def project_page(
    request: Request, project: str, q: str = "", age: str = "", sort: str = "last", page: int = 0
) -> Response:
    user = web.signed_in(request)
    pid = web.project_of(request, user, project)
    engine = web.context(request).engine
    started = time.perf_counter()
    error, result, breakdowns, volume = None, None, {}, None
    try:
        view = data.view(q, age, sort, page)
        result = data.project_groups(engine, pid, view)
        volume = data.project_volume(engine, pid, view)
        breakdowns = data.breakdowns(engine, pid, view.filters, view.seconds)
    except QueryError as e:
        error = e.message
        view = data.View(q, age, sort if sort in data.SORTS else "last", max(page, 0))
    rows = [_row(r) for r in (result or {}).get("rows", [])]
    problems = data.delivery_problems(engine, pid)
    bars = {
        name: {**b, "bars": charts.bars(b["values"], b["total"])} for name, b in breakdowns.items()
    }
    return web.render(
        request,
        "project.html",
        user,
        status=400 if error else 200,
        project=project,
        view=view,
        error=error,
        rows=rows,
        total=(result or {}).get("total", 0),
        factors=(result or {}).get("factors", 0),
        window=(result or {}).get("window"),
        breakdowns=bars,
        volume=_volume_chart(volume),
        problems=problems,
        sorts=data.SORTS,
        operators=OPERATORS,
        ages=data.AGES,
        page_size=data.PAGE,
        elapsed=time.perf_counter() - started,
    )


def _volume_chart(volume: tuple[list[int], tuple[float, float]] | None) -> Markup | None:
    """The crash-volume chart of the chosen window (``data.project_volume``)."""
    if volume is None:
        return None
    counts, window = volume
    start, end = (web.templates.env.filters["when"](t) for t in window)
    return charts.timechart(counts, start, end)


def _row(r: dict[str, Any]) -> dict[str, Any]:
    aggs = r.get("aggregates", {})
    g = r.get("group") or {}
    return {
        "fingerprint": r["factor"],
        "count": r["count"],
        "first_seen": r["first_seen"],
        "last_seen": r["last_seen"],
        "histogram": aggs.get("histogram"),
        "labels": r.get("labels", []),
        "hosts": r.get("hosts", 0),
        "state": g.get("state", "open"),
        "total": g.get("count", r["count"]),
        "frames": [f for f in g.get("frames", []) if f][:3],
    }
