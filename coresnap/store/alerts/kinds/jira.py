"""JIRA through its REST API v2: an issue for a new group, a comment on the next events.

``POST {url}/rest/api/2/issue`` answers 201 ``{"id", "key", "self"}``; the key is kept in
``group_tickets`` (one per group and target) and recorded as a ``jira`` group event, so the
console shows it. Later events of the group (regression, threshold) become
``POST {url}/rest/api/2/issue/{key}/comment``; an event for a group without a ticket (a target
added after the group appeared) opens one. Auth: basic with ``user`` + ``token`` (an API
token), or a bearer ``token`` (a personal access token) without ``user``.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from coresnap.errors import DeliveryFailed
from coresnap.store.alerts import message
from coresnap.store.alerts.kinds.outgoing import Outgoing, post_json
from coresnap.store.db.engine import writing
from coresnap.store.db.models import group_events, group_tickets


def issue(payload: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """The create-issue body for ``payload``."""
    fields: dict[str, Any] = {
        "project": {"key": settings["project_key"]},
        "issuetype": {"name": settings.get("issue_type") or "Bug"},
        "summary": message.title(payload)[:250],
        "description": message.text(payload),
        "labels": list(settings.get("labels") or ["coresnap"]),
    }
    return {"fields": fields}


def comment(payload: dict[str, Any]) -> dict[str, Any]:
    """The comment body for a later event of a group with a ticket."""
    return {"body": message.text(payload)}


def _auth(settings: dict[str, Any]) -> tuple[dict[str, str], httpx.BasicAuth | None]:
    token = settings.get("token")
    if settings.get("user"):
        return {}, httpx.BasicAuth(settings["user"], token or "")
    return ({"Authorization": f"Bearer {token}"} if token else {}), None


def ticket(conn: Connection, group_id: int, target_id: int) -> str | None:
    """The issue key of the group at the target, if one was opened."""
    q = select(group_tickets.c.key).where(
        group_tickets.c.group_id == group_id, group_tickets.c.target_id == target_id
    )
    key = conn.execute(q).scalar()
    return None if key is None else str(key)


def send(out: Outgoing) -> None:
    base = out.settings["url"].rstrip("/")
    headers, auth = _auth(out.settings)
    extra: dict[str, Any] = {"auth": auth} if auth else {}
    gid = out.group_id
    key = None
    if gid is not None:
        with out.engine.connect() as conn:
            key = ticket(conn, gid, out.target_id)
    if key is not None:
        if out.payload["event"] == "new-group":
            return  # opened by an earlier attempt whose answer we kept; nothing more to say
        body = json.dumps(comment(out.payload)).encode()
        post_json(out, f"{base}/rest/api/2/issue/{key}/comment", body, headers, **extra)
        return
    body = json.dumps(issue(out.payload, out.settings)).encode()
    reply = post_json(out, f"{base}/rest/api/2/issue", body, headers, **extra)
    try:
        key = str(reply.json()["key"])
    except (ValueError, KeyError, TypeError) as e:
        raise DeliveryFailed("jira", f"no issue key in the answer: {reply.text[:200]}") from e
    if gid is not None:
        _keep(out, gid, key, f"{base}/browse/{key}")


def _keep(out: Outgoing, group_id: int, key: str, url: str) -> None:
    now = time.time()
    try:
        with writing(out.engine.connect()) as conn, conn.begin():
            conn.execute(
                insert(group_tickets).values(
                    group_id=group_id, target_id=out.target_id, key=key, url=url, created=now
                )
            )
            conn.execute(
                insert(group_events).values(
                    group_id=group_id,
                    at=now,
                    by=f"coronerd (alert target {out.target})",
                    action="jira",
                    detail=key,
                )
            )
    except IntegrityError:
        pass  # another coronerd kept a ticket for this group first; ours stays in JIRA only
