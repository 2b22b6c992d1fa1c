"""Alert targets: checked specs, plain functions to list / create / update / delete them, the
deliveries of a project, and the start-up sync of the config file's ``[[alerts]]`` tables.

A spec is a plain dict (from TOML or JSON): the common keys of COMMON, and the kind's own keys
(KIND_KEYS) either at top level or under ``settings``. :func:`check` turns it into a
:class:`Spec` or raises :class:`InvalidTarget` naming the key. Functions taking a ``conn``
run in the caller's transaction (open it with ``writing()`` to change things).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from coresnap import querylang
from coresnap.errors import (
    ConfigError,
    CoresnapError,
    InvalidTarget,
    QueryError,
    TargetNotFound,
)
from coresnap.store import auth
from coresnap.store.config import StoreConfig
from coresnap.store.db.engine import writing
from coresnap.store.db.models import alert_deliveries, alert_targets, groups
from coresnap.store.query import Filter, condition, parse_age

log = logging.getLogger("coronerd")

KINDS = ("slack", "jira", "webhook", "email")
EVENTS = ("new-group", "regression", "threshold")
DEFAULT_EVENTS = ("new-group", "regression")
STATES = ("pending", "sent", "failed")
COMMON = (
    "project",
    "name",
    "kind",
    "events",
    "filter",
    "threshold",
    "threshold_period",
    "min_interval",
    "enabled",
    "settings",
)
# Per kind: (required keys, optional keys) of its settings.
KIND_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "slack": (("url",), ("channel", "username")),
    "webhook": (("url",), ("secret", "headers")),
    "jira": (("url", "project_key"), ("issue_type", "user", "token", "labels")),
    "email": (("host", "from", "to"), ("port", "starttls", "username", "password")),
}
SECRETS = ("secret", "token", "password")
# Set in a target's settings when it came from the config file (start-up sync owns it).
FROM_CONFIG = "from_config"
# Reserved: the path /alerts/deliveries lists deliveries, not a target named so.
RESERVED = ("deliveries",)


@dataclass
class Spec:
    """A checked alert target (what a row of ``alert_targets`` holds)."""

    name: str
    kind: str
    settings: dict[str, Any]
    events: list[str] = field(default_factory=lambda: list(DEFAULT_EVENTS))
    filter: list[dict[str, Any]] = field(default_factory=list)
    threshold: int | None = None
    threshold_period: float | None = None
    min_interval: float = 0.0
    enabled: bool = True


def _seconds(key: str, value: object) -> float:
    if value in (0, "0", None):
        return 0.0
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidTarget(key, "must be seconds or <n>s|m|h|d")
    try:
        return parse_age(value)
    except QueryError as e:
        raise InvalidTarget(key, str(e)) from e


def parse_filter(item: object) -> dict[str, Any]:
    """One filter: ``{"attribute", "op", "value"}``, or the ``coroner list --filter`` text form
    ``attr=value`` / ``attr,op[,value]``; raises InvalidTarget."""
    if isinstance(item, str):
        try:
            spec = querylang.parse_filter(item)
        except QueryError as e:
            raise InvalidTarget("filter", str(e)) from e
    elif isinstance(item, dict) and "attribute" in item:
        given = item.get("value")
        spec = {
            "attribute": str(item["attribute"]),
            "op": str(item.get("op", "equal")),
            "value": None if given is None else str(given),
        }
    else:
        raise InvalidTarget("filter", "a list of attr=value strings or {attribute, op, value}")
    try:
        condition(Filter(spec["attribute"], spec["op"], spec["value"]))
    except QueryError as e:
        raise InvalidTarget("filter", str(e)) from e
    return spec


def check(raw: dict[str, Any]) -> Spec:
    """The checked Spec of ``raw`` (``project`` is ignored here); raises InvalidTarget."""
    name = raw.get("name")
    if not isinstance(name, str) or not name or len(name) > 64 or name in RESERVED:
        raise InvalidTarget("name", "1 to 64 characters, not 'deliveries'")
    if not all(c.isalnum() or c in "-_." for c in name):
        raise InvalidTarget("name", "letters, digits, '-', '_' and '.' only")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise InvalidTarget("kind", f"one of {', '.join(KINDS)}")
    settings = dict(raw.get("settings") or {})
    settings.update({k: v for k, v in raw.items() if k not in COMMON})
    required, optional = KIND_KEYS[kind]
    unknown = set(settings) - set(required) - set(optional) - {FROM_CONFIG}
    if unknown:
        raise InvalidTarget(sorted(unknown)[0], f"not a setting of {kind} targets")
    for key in required:
        if settings.get(key) in (None, "", []):
            raise InvalidTarget(key, f"required for {kind} targets")
    _check_settings(kind, settings)
    threshold = raw.get("threshold")
    if threshold is not None and (
        isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1
    ):
        raise InvalidTarget("threshold", "a count of occurrences, at least 1")
    period = _seconds("threshold_period", raw.get("threshold_period"))
    events = raw.get("events")
    if events is None:
        events = [*DEFAULT_EVENTS, *(["threshold"] if threshold else [])]
    if isinstance(events, str):
        events = [e.strip() for e in events.split(",") if e.strip()]
    if not isinstance(events, list) or not events or set(events) - set(EVENTS):
        raise InvalidTarget("events", f"a list among {', '.join(EVENTS)}")
    if "threshold" in events and (not threshold or not period):
        raise InvalidTarget("threshold", "the threshold event needs threshold and threshold_period")
    filters = raw.get("filter") or []
    if not isinstance(filters, list):
        filters = [filters]
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise InvalidTarget("enabled", "true or false")
    return Spec(
        name=name,
        kind=kind,
        settings=settings,
        events=[e for e in EVENTS if e in events],
        filter=[parse_filter(f) for f in filters],
        threshold=threshold,
        threshold_period=period or None,
        min_interval=_seconds("min_interval", raw.get("min_interval")),
        enabled=enabled,
    )


def _check_settings(kind: str, s: dict[str, Any]) -> None:
    for key in ("url",):
        if key in s and not (
            isinstance(s[key], str) and s[key].startswith(("http://", "https://"))
        ):
            raise InvalidTarget(key, "an http:// or https:// URL")
    if kind == "email":
        to = s["to"]
        if isinstance(to, str):
            s["to"] = [a.strip() for a in to.split(",") if a.strip()]
        elif not (isinstance(to, list) and all(isinstance(a, str) for a in to)):
            raise InvalidTarget("to", "an address or a list of addresses")
        port = s.get("port", 25)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise InvalidTarget("port", "a TCP port")
        if not isinstance(s.get("starttls", False), bool):
            raise InvalidTarget("starttls", "true or false")
    if kind == "webhook" and not isinstance(s.get("headers", {}), dict):
        raise InvalidTarget("headers", "a table of header names to values")
    if kind == "jira" and not isinstance(s.get("labels", []), list):
        raise InvalidTarget("labels", "a list of JIRA labels")


def _values(spec: Spec) -> dict[str, Any]:
    return dict(
        name=spec.name,
        kind=spec.kind,
        settings=json.dumps(spec.settings, sort_keys=True),
        events=",".join(spec.events),
        filter=json.dumps(spec.filter) if spec.filter else None,
        threshold_count=spec.threshold,
        threshold_period=spec.threshold_period,
        min_interval=spec.min_interval,
        enabled=spec.enabled,
    )


def spec_of(row: Any) -> Spec:
    """The Spec of a row of ``alert_targets``."""
    return Spec(
        name=row.name,
        kind=row.kind,
        settings=json.loads(row.settings),
        events=[e for e in row.events.split(",") if e],
        filter=json.loads(row.filter) if row.filter else [],
        threshold=row.threshold_count,
        threshold_period=row.threshold_period,
        min_interval=float(row.min_interval or 0.0),
        enabled=bool(row.enabled),
    )


def redacted(spec: Spec) -> dict[str, Any]:
    """``spec`` as JSON for readers: secrets (and Slack's secret URL path) hidden."""
    out = asdict(spec)
    s = dict(spec.settings)
    for key in SECRETS:
        if s.get(key):
            s[key] = "********"
    if isinstance(s.get("headers"), dict):  # e.g. Authorization: extra headers are credentials
        s["headers"] = {k: "********" for k in s["headers"]}
    if spec.kind == "slack" and isinstance(s.get("url"), str):
        s["url"] = "/".join(s["url"].split("/")[:3]) + "/********"
    out["settings"] = s
    return out


def _row(conn: Connection, project_id: int, name: str, project: str) -> Any:
    q = select(alert_targets).where(
        alert_targets.c.project_id == project_id, alert_targets.c.name == name
    )
    row = conn.execute(q).first()
    if row is None:
        raise TargetNotFound(project, name)
    return row


def list_targets(conn: Connection, project_id: int) -> list[Spec]:
    """The project's alert targets, by name."""
    q = select(alert_targets).where(alert_targets.c.project_id == project_id)
    return [spec_of(r) for r in conn.execute(q.order_by(alert_targets.c.name))]


def get(conn: Connection, project_id: int, project: str, name: str) -> Spec:
    """Target ``name`` of the project; raises TargetNotFound."""
    return spec_of(_row(conn, project_id, name, project))


def create(conn: Connection, project_id: int, raw: dict[str, Any]) -> Spec:
    """Add a target from ``raw``; raises InvalidTarget (also when the name is taken)."""
    spec = check(raw)
    taken = select(alert_targets.c.id).where(
        alert_targets.c.project_id == project_id, alert_targets.c.name == spec.name
    )
    if conn.execute(taken).first() is not None:
        raise InvalidTarget("name", f"a target named {spec.name!r} exists")
    conn.execute(
        insert(alert_targets).values(project_id=project_id, created=time.time(), **_values(spec))
    )
    return spec


def update_target(
    conn: Connection, project_id: int, project: str, name: str, changes: dict[str, Any]
) -> Spec:
    """Change target ``name``: keys of ``changes`` replace the spec's, ``settings`` are merged
    key by key (so redacted secrets need not be sent back). Raises TargetNotFound, InvalidTarget."""
    row = _row(conn, project_id, name, project)
    current = asdict(spec_of(row))
    settings = {**current.pop("settings"), **(changes.get("settings") or {})}
    merged = {**current, **{k: v for k, v in changes.items() if k != "settings"}}
    merged["settings"] = {k: v for k, v in settings.items() if v is not None}
    if merged.get("kind") != row.kind:
        raise InvalidTarget("kind", "cannot change; delete the target and create another")
    spec = check(merged)
    conn.execute(update(alert_targets).where(alert_targets.c.id == row.id).values(**_values(spec)))
    return spec


def delete_target(conn: Connection, project_id: int, project: str, name: str) -> None:
    """Remove target ``name`` with its deliveries and tickets; raises TargetNotFound."""
    row = _row(conn, project_id, name, project)
    conn.execute(delete(alert_deliveries).where(alert_deliveries.c.target_id == row.id))
    conn.execute(delete(alert_targets).where(alert_targets.c.id == row.id))


def deliveries(
    conn: Connection,
    project_id: int,
    state: str | None = None,
    target: str | None = None,
    limit: int = 50,
    troubled: bool = False,
) -> list[dict[str, Any]]:
    """The project's most recent deliveries (newest first), optionally of one state or target;
    ``troubled``: only those that gave up or whose last attempt failed (to be retried)."""
    d, t = alert_deliveries, alert_targets
    q = (
        select(
            d.c.id,
            t.c.name.label("target"),
            t.c.kind,
            groups.c.fingerprint,
            d.c.event,
            d.c.state,
            d.c.attempts,
            d.c.created,
            d.c.next_attempt,
            d.c.sent_at,
            d.c.last_error,
        )
        .join(t, t.c.id == d.c.target_id)
        .outerjoin(groups, groups.c.id == d.c.group_id)
        .where(t.c.project_id == project_id)
    )
    if state is not None:
        q = q.where(d.c.state == state)
    if target is not None:
        q = q.where(t.c.name == target)
    if troubled:
        q = q.where(
            (d.c.state == "failed") | ((d.c.state == "pending") & d.c.last_error.is_not(None))
        )
    rows = conn.execute(q.order_by(d.c.id.desc()).limit(limit)).mappings()
    return [dict(r) for r in rows]


def sync(engine: Engine, config: StoreConfig) -> int:
    """Make the config file's ``[[alerts]]`` the alert targets it names (created or replaced);
    targets that came from the config file and are no longer in it are disabled (not deleted:
    their JIRA tickets and history stay). Returns the number of targets in the file.

    Raises ConfigError for an invalid table or an unknown project.
    """
    source = str(config.source or "coronerd.toml")
    wanted: dict[tuple[str, str], Spec] = {}
    for i, raw in enumerate(config.alerts):
        where = f"{source}: [[alerts]] #{i + 1}"
        if not isinstance(raw, dict) or not isinstance(raw.get("project"), str):
            raise ConfigError(where, "each [[alerts]] table needs a project")
        try:
            spec = check(raw)
        except InvalidTarget as e:
            raise ConfigError(where, str(e)) from e
        spec.settings[FROM_CONFIG] = True
        wanted[(raw["project"], spec.name)] = spec
    with writing(engine.connect()) as conn, conn.begin():
        for (project, name), spec in wanted.items():
            try:
                pid = auth.project_id(conn, project)
            except CoresnapError as e:
                raise ConfigError(source, f"[[alerts]] {name!r}: {e}") from e
            assert pid is not None
            # An upsert: several coronerd processes may start together on one PostgreSQL.
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            values = _values(spec)
            conn.execute(
                dialect.insert(alert_targets)
                .values(project_id=pid, created=time.time(), **values)
                .on_conflict_do_update(index_elements=["project_id", "name"], set_=values)
            )
        _disable_removed(conn, {(auth.project_id(conn, p), n) for p, n in wanted})
    return len(wanted)


def _disable_removed(conn: Connection, kept: set[tuple[int | None, str]]) -> None:
    rows = conn.execute(
        select(alert_targets.c.id, alert_targets.c.project_id, alert_targets.c.name).where(
            alert_targets.c.settings.contains(f'"{FROM_CONFIG}": true'),
            alert_targets.c.enabled.is_(True),
        )
    )
    for tid, pid, name in rows.all():
        if (pid, name) not in kept:
            log.warning("alerts: target %r is no longer in the config file: disabled", name)
            conn.execute(
                update(alert_targets).where(alert_targets.c.id == tid).values(enabled=False)
            )
