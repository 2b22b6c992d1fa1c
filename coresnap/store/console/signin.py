"""Sign-in, sign-out and the list of projects a user may see."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select

from coresnap.store.console import throttle, users, web
from coresnap.store.db.engine import writing
from coresnap.store.db.models import groups, objects

router = APIRouter()
# Before a session exists, the login form's CSRF token is a cookie echoed in the form.
LOGIN_COOKIE = "coresnap_login"


def _safe_next(target: str) -> str:
    """``target`` if it is a path of this site, else "/".

    "//evil.example" is another site; browsers also read a backslash as a slash and drop tabs
    and newlines, so "/\\evil.example" and "/\\t/evil.example" would be open redirects too.
    """
    bad = target.startswith("//") or any(c == "\\" or c < " " for c in target)
    return target if target.startswith("/") and not bad else "/"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:
    token = secrets.token_urlsafe(32)
    response = web.render(request, "login.html", None, next=_safe_next(next), login_csrf=token)
    web.set_cookie(request, response, LOGIN_COOKIE, token, 3600)
    return response


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    name: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf: Annotated[str, Form(max_length=128)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(csrf.encode(), expected.encode()):
        raise web.PageError(403, "the sign-in form is stale (no CSRF token): reload the page")
    address = request.client.host if request.client else ""
    device = request.cookies.get(throttle.DEVICE_COOKIE)
    engine = web.context(request).engine
    with writing(engine.connect()) as conn, conn.begin():
        who = throttle.attempt(conn, address, name, device)
        if throttle.blocked(conn, who):
            raise web.PageError(429, "too many failed sign-ins: wait a few minutes")
        user = users.authenticate(conn, name, password)
        if user is None:
            throttle.failed(conn, who)
            token = device = None
        else:
            token = users.open_session(conn, user)
            device = throttle.succeeded(conn, who, user.id)
    if token is None:
        again = secrets.token_urlsafe(32)
        page = web.render(
            request,
            "login.html",
            None,
            401,
            next=_safe_next(next),
            login_csrf=again,
            error="wrong user name or password",
            name=name,
        )
        web.set_cookie(request, page, LOGIN_COOKIE, again, 3600)
        return page
    response = RedirectResponse(_safe_next(next), status_code=303)
    web.set_cookie(request, response, web.COOKIE, token, users.SESSION_LIFETIME)
    if device:
        web.set_cookie(request, response, throttle.DEVICE_COOKIE, device, throttle.DEVICE_LIFETIME)
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@router.get("/logout", response_class=HTMLResponse)
def logout_page(request: Request) -> Response:
    return web.render(request, "logout.html", web.signed_in(request))


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
    user = web.signed_in(request)
    web.check_csrf(user, csrf)
    with writing(web.context(request).engine.connect()) as conn, conn.begin():
        users.close_session(conn, request.cookies.get(web.COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(web.COOKIE, path="/")
    return response


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> Response:
    user = web.signed_in(request)
    engine = web.context(request).engine
    with engine.connect() as conn:
        mine = users.visible_projects(conn, user)
        ids = [pid for pid, _ in mine]
        counts = {
            pid: (n, last)
            for pid, n, last in conn.execute(
                select(objects.c.project_id, func.count(), func.max(objects.c.timestamp))
                .where(objects.c.project_id.in_(ids))
                .group_by(objects.c.project_id)
            )
        }
        open_groups: dict[int, int] = dict(
            conn.execute(
                select(groups.c.project_id, func.count())
                .where(
                    groups.c.project_id.in_(ids),
                    groups.c.state == "open",
                    groups.c.merged_into.is_(None),
                    groups.c.count > 0,
                )
                .group_by(groups.c.project_id)
            ).all()
        )
    rows = [
        {
            "name": name,
            "objects": counts.get(pid, (0, None))[0],
            "last": counts.get(pid, (0, None))[1],
            "open": open_groups.get(pid, 0),
        }
        for pid, name in mine
    ]
    return web.render(request, "index.html", user, projects=rows)
