"""The project's Alerts page: its targets, their recent deliveries, and forms to change them.

Everyone who may see the project reads the page (secrets redacted as the API does); only console
admins change targets, as the API asks an ``admin`` token: a target holds credentials and
decides where crash data goes. Every change goes through coresnap.store.alerts.targets (create,
update_target, delete_target), so the form and the API refuse the same specs with the same
InvalidTarget, shown next to the field it names; nothing is saved then.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from coresnap.store.alerts import targets
from coresnap.store.console import data, users, web
from coresnap.store.db.engine import writing

router = APIRouter()

# Per kind: the settings fields the forms show, in order: (key, label, input type).
FIELDS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "slack": (
        ("url", "Incoming webhook URL", "secret-url"),
        ("channel", "Channel (optional)", "text"),
        ("username", "Posting name (optional)", "text"),
    ),
    "webhook": (("url", "URL", "url"), ("secret", "HMAC secret (optional)", "password")),
    "jira": (
        ("url", "JIRA base URL", "url"),
        ("project_key", "Project key", "text"),
        ("issue_type", "Issue type (default Bug)", "text"),
        ("user", "User", "text"),
        ("token", "API token", "password"),
    ),
    "email": (
        ("host", "SMTP host", "text"),
        ("port", "Port (default 25)", "number"),
        ("from", "From", "text"),
        ("to", "To (comma-separated)", "text"),
        ("starttls", "STARTTLS", "checkbox"),
        ("username", "SMTP user (optional)", "text"),
        ("password", "SMTP password (optional)", "password"),
    ),
}
# Fields a form leaves empty to keep what is stored (their values are never shown).
KEEP_IF_EMPTY = ("secret-url", "password")
# The form's own fields: a target's common keys but the project (the URL's) and settings.
COMMON_FIELDS = tuple(k for k in targets.COMMON if k not in ("project", "settings"))
# Failures first on the page, then messages still waiting, then what was sent.
_ORDER = {"failed": 0, "retrying": 1, "sending": 2, "pending": 3, "sent": 4}


def _admin(user: users.User) -> None:
    if not user.admin:
        raise web.PageError(403, "only console admins may change alert targets")


async def _admin_post(request: Request, project: str) -> tuple[users.User, int, Any]:
    """A change to the project's targets: signed in, the project visible (else 404), the form's
    CSRF token right and the user an admin (else 403). Returns (user, project id, form)."""
    user = web.signed_in(request)
    pid = web.project_of(request, user, project)
    form = await request.form()
    web.check_csrf(user, form.get("csrf"))
    _admin(user)
    return user, pid, form


def _base(project: str) -> str:
    return f"/p/{web.templates.env.filters['quote'](project)}/alerts"


def _listed(spec: targets.Spec) -> dict[str, Any]:
    out = targets.redacted(spec)
    settings = dict(out["settings"])
    out["from_config"] = bool(settings.pop(targets.FROM_CONFIG, False))
    if isinstance(settings.get("to"), list):
        settings["to"] = ", ".join(settings["to"])
    out["settings"] = settings
    out["filter_text"] = [_filter_text(f) for f in spec.filter]
    return out


def _filter_text(f: dict[str, Any]) -> str:
    if f.get("op") == "equal":
        return f"{f['attribute']}={f.get('value') or ''}"
    value = f.get("value")
    return f"{f['attribute']},{f['op']}" + ("" if value is None else f",{value}")


def _deliveries(request: Request, pid: int, target: str | None) -> list[dict[str, Any]]:
    """The newest 100 deliveries, and the newest 50 failed and 50 pending ones even if older."""
    with web.context(request).engine.connect() as conn:
        found = {
            r["id"]: r
            for state, limit in (("failed", 50), ("pending", 50), (None, 100))
            for r in targets.deliveries(conn, pid, state, target, limit)
        }
    rows = list(found.values())
    for r in rows:
        r["shown_state"] = data.delivery_state(r)
    rows.sort(key=lambda r: (_ORDER[r["shown_state"]], -float(r["created"])))
    return rows


def _form_values(spec: targets.Spec | None, kind: str) -> dict[str, Any]:
    """What the edit form shows for ``spec`` (secret fields always empty)."""
    if spec is None:
        return {"kind": kind, "events": list(targets.DEFAULT_EVENTS), "enabled": True}
    listed = _listed(spec)
    values: dict[str, Any] = {
        "name": spec.name,
        "kind": spec.kind,
        "events": spec.events,
        "filter": "\n".join(listed["filter_text"]),
        "threshold": spec.threshold or "",
        "threshold_period": _number(spec.threshold_period),
        "min_interval": _number(spec.min_interval),
        "enabled": spec.enabled,
    }
    for key, _label, kind_of in FIELDS.get(spec.kind, ()):
        if kind_of not in KEEP_IF_EMPTY:
            values[key] = listed["settings"].get(key, "")
    return values


def _number(value: float | None) -> str:
    if not value:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def _page(
    request: Request,
    user: users.User,
    project: str,
    pid: int,
    *,
    status: int = 200,
    form: dict[str, Any] | None = None,
    target: str | None = None,
) -> Response:
    with web.context(request).engine.connect() as conn:
        found = targets.list_targets(conn, pid)
    return web.render(
        request,
        "alerts.html",
        user,
        status=status,
        project=project,
        base=_base(project),
        targets=[_listed(t) for t in found],
        deliveries=_deliveries(request, pid, target),
        target=target,
        kinds=targets.KINDS,
        form=form,
    )


def _form(
    mode: str,
    kind: str,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    name: str = "",
    from_config: bool = False,
) -> dict[str, Any]:
    return {
        "mode": mode,  # "new" or "edit"
        "kind": kind,
        "name": name,
        "fields": FIELDS.get(kind, ()),
        "values": values,
        "errors": errors or {},
        "events": targets.EVENTS,
        "from_config": from_config,
    }


def _error(e: targets.InvalidTarget, kind: str) -> dict[str, str]:
    """The message of ``e`` under its field's key ('' when no field of the form has it)."""
    known = set(COMMON_FIELDS) | {k for k, _l, _t in FIELDS.get(kind, ())}
    return {e.key if e.key in known else "": str(e.message)}


def _raw(form: Any, kind: str, editing: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """(spec, what the form showed) from a submitted form. Text stays text unless it is a
    whole number where a number is wanted: targets.check() judges every value."""
    shown: dict[str, Any] = {"kind": kind}
    raw: dict[str, Any] = {}
    for key in ("name", "threshold_period", "min_interval"):
        shown[key] = str(form.get(key) or "").strip()
    raw["name"] = shown["name"]
    threshold = str(form.get("threshold") or "").strip()
    shown["threshold"] = threshold
    raw["threshold"] = int(threshold) if threshold.isdigit() else (threshold or None)
    raw["threshold_period"] = shown["threshold_period"] or None
    raw["min_interval"] = shown["min_interval"] or 0
    shown["events"] = raw["events"] = [str(e) for e in form.getlist("events")]
    shown["filter"] = str(form.get("filter") or "")
    raw["filter"] = [line.strip() for line in shown["filter"].splitlines() if line.strip()]
    shown["enabled"] = raw["enabled"] = form.get("enabled") == "on"
    settings: dict[str, Any] = {}
    for key, _label, kind_of in FIELDS.get(kind, ()):
        value = str(form.get(key) or "").strip()
        if kind_of == "checkbox":
            settings[key] = shown[key] = form.get(key) == "on"
            continue
        if kind_of in KEEP_IF_EMPTY:
            if value:
                settings[key] = value
            continue  # never echoed back into the page
        shown[key] = value
        if kind_of == "number" and value.isdigit():
            settings[key] = int(value)
        elif value:
            settings[key] = value
        elif editing:
            settings[key] = None  # an emptied optional field: update_target removes the key
    raw["settings"] = settings
    return raw, shown


@router.get("/p/{project}/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, project: str, target: str = "") -> Response:
    """The page; ``?target=<name>`` shows only that target's deliveries."""
    user = web.signed_in(request)
    pid = web.project_of(request, user, project)
    return _page(request, user, project, pid, target=target[:64] or None)


@router.get("/p/{project}/alerts/new", response_class=HTMLResponse)
def new_target_form(request: Request, project: str, kind: str = "webhook") -> Response:
    user = web.signed_in(request)
    pid = web.project_of(request, user, project)
    _admin(user)
    if kind not in targets.KINDS:
        errors = {"kind": f"kind: one of {', '.join(targets.KINDS)}"}
        form = _form("new", kind, _form_values(None, kind), errors)
        return _page(request, user, project, pid, status=422, form=form)
    return _page(request, user, project, pid, form=_form("new", kind, _form_values(None, kind)))


@router.post("/p/{project}/alerts/new", response_class=HTMLResponse)
async def create_target(request: Request, project: str) -> Response:
    user, pid, form = await _admin_post(request, project)
    kind = str(form.get("kind") or "")
    raw, shown = _raw(form, kind, editing=False)
    raw["kind"] = kind
    try:
        with writing(web.context(request).engine.connect()) as conn, conn.begin():
            targets.create(conn, pid, raw)
    except targets.InvalidTarget as e:
        page = _form("new", kind, shown, _error(e, kind))
        return _page(request, user, project, pid, status=422, form=page)
    return RedirectResponse(_base(project), status_code=303)


def _target(request: Request, pid: int, project: str, name: str) -> targets.Spec:
    with web.context(request).engine.connect() as conn:
        try:
            return targets.get(conn, pid, project, name)
        except targets.TargetNotFound as e:
            raise web.PageError(404, e.message) from e


@router.get("/p/{project}/alerts/t/{name}", response_class=HTMLResponse)
def edit_target_form(request: Request, project: str, name: str) -> Response:
    user = web.signed_in(request)
    pid = web.project_of(request, user, project)
    _admin(user)
    spec = _target(request, pid, project, name)
    from_config = bool(spec.settings.get(targets.FROM_CONFIG))
    form = _form(
        "edit", spec.kind, _form_values(spec, spec.kind), name=name, from_config=from_config
    )
    return _page(request, user, project, pid, form=form)


@router.post("/p/{project}/alerts/t/{name}", response_class=HTMLResponse)
async def change_target(request: Request, project: str, name: str) -> Response:
    user, pid, form = await _admin_post(request, project)
    spec = _target(request, pid, project, name)
    raw, shown = _raw(form, spec.kind, editing=True)
    raw.pop("name")
    shown["name"] = name
    try:
        with writing(web.context(request).engine.connect()) as conn, conn.begin():
            targets.update_target(conn, pid, project, name, raw)
    except targets.InvalidTarget as e:
        from_config = bool(spec.settings.get(targets.FROM_CONFIG))
        page = _form("edit", spec.kind, shown, _error(e, spec.kind), name, from_config)
        return _page(request, user, project, pid, status=422, form=page)
    return RedirectResponse(_base(project), status_code=303)


@router.post("/p/{project}/alerts/t/{name}/enabled")
async def enable_target(request: Request, project: str, name: str) -> Response:
    _, pid, form = await _admin_post(request, project)
    _target(request, pid, project, name)
    with writing(web.context(request).engine.connect()) as conn, conn.begin():
        targets.update_target(conn, pid, project, name, {"enabled": form.get("enabled") == "on"})
    return RedirectResponse(_base(project), status_code=303)


@router.post("/p/{project}/alerts/t/{name}/delete")
async def delete_target(request: Request, project: str, name: str) -> Response:
    _, pid, _ = await _admin_post(request, project)
    _target(request, pid, project, name)
    with writing(web.context(request).engine.connect()) as conn, conn.begin():
        targets.delete_target(conn, pid, project, name)
    return RedirectResponse(_base(project), status_code=303)
