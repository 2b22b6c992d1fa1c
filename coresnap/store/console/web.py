"""What every console page shares: templates, the signed-in user, CSRF, the HTML error page."""

from __future__ import annotations

import hmac
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from coresnap import timetext
from coresnap.errors import PageError, QueriesBusy, SignInNeeded
from coresnap.snapshot.view_values import render_value
from coresnap.store.console import charts, users
from coresnap.store.routes import Context

HERE = Path(__file__).parent
COOKIE = "coresnap_session"
templates = Jinja2Templates(directory=str(HERE / "templates"))
# Pages load only this site's stylesheet (bar widths are inline styles), run no script, and
# may not be framed (a framed page could be clicked into resolving a group).
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def context(request: Request) -> Context:
    ctx: Context = request.app.state.context
    return ctx


async def query_slot(request: Request) -> AsyncIterator[None]:
    """The API's query slot (coresnap.store.queryslots) for a page that runs queries: a page
    finding none free is an error page (503), not the API's JSON."""
    slots = context(request).queries
    try:
        await slots.acquire()
    except QueriesBusy as e:
        raise PageError(503, e.message) from e
    try:
        yield
    finally:
        slots.release()


def signed_in(request: Request) -> users.User:
    """The user of the request's session cookie; raises SignInNeeded without one."""
    with context(request).engine.connect() as conn:
        user = users.session_user(conn, request.cookies.get(COOKIE))
    if user is None:
        raise SignInNeeded(request.url.path)
    return user


def project_of(request: Request, user: users.User, project: str) -> int:
    """The id of ``project`` if ``user`` may see it; PageError(404) otherwise (no hint why)."""
    with context(request).engine.connect() as conn:
        pid = users.project_for(conn, user, project)
    if pid is None:
        raise PageError(404, f"no project {project!r}")
    return pid


def check_csrf(user: users.User, form_token: object) -> None:
    """Refuse (403) a form whose CSRF token is not the session's."""
    given = form_token if isinstance(form_token, str) else ""
    if not user.csrf or not hmac.compare_digest(given.encode(), user.csrf.encode()):
        raise PageError(403, "the form's CSRF token is missing or stale: reload the page")


def render(
    request: Request, template: str, user: users.User | None, status: int = 200, **values: Any
) -> HTMLResponse:
    values.update(user=user, csrf=user.csrf if user else "")
    response = templates.TemplateResponse(request, template, values, status_code=status)
    response.headers.update(HEADERS)
    return response


def set_cookie(request: Request, response: Response, name: str, value: str, age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=age,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def _when(ts: float | None) -> str:
    return timetext.utc(ts)


def _ago(ts: float | None) -> str:
    return timetext.ago(ts)


def _hexa(value: Any) -> str:
    return f"{value:#x}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _pairs(value: Any) -> list[tuple[Any, Any]]:
    """(key, value) pairs of whatever a snapshot holds where a mapping is expected: a dict's
    items, a list's (index, item), else one unnamed pair (the schema leaves such parts open)."""
    if isinstance(value, dict):
        return list(value.items())
    if isinstance(value, list):
        return list(enumerate(value))
    return [] if value is None else [("", value)]


def _seconds(value: Any) -> str:
    """``86400 s``; a number past a float's range as its digits; anything else as nothing."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    try:
        return f"{float(value):.0f} s"
    except OverflowError:
        return f"{value} s"


def _size(n: float | None) -> str:
    if n is None:
        return ""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n = n / 1024
    return str(n)


templates.env.filters.update(
    when=_when, ago=_ago, hexa=_hexa, size=_size, sparkline=charts.sparkline, value=render_value
)
templates.env.filters["quote"] = lambda s: quote(str(s), safe="")
templates.env.filters["pairs"] = lambda v: _pairs(v)
templates.env.filters["seconds"] = lambda v: _seconds(v)
# The variable an annotation names: "n->next" and "n.next[2]" are about the variable "n".
templates.env.filters["varroot"] = lambda name: re.split(r"->|\.|\[", str(name))[0]


async def _page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    user = None
    try:
        user = signed_in(request)
    except SignInNeeded:
        pass
    return render(request, "error.html", user, exc.status, message=exc.message)


async def _sign_in(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInNeeded)
    return RedirectResponse(f"/login?next={quote(exc.path, safe='/')}", status_code=303)


def install(app: FastAPI) -> None:
    app.add_exception_handler(PageError, _page_error)
    app.add_exception_handler(SignInNeeded, _sign_in)
