"""Projects' tokens: generated once, stored hashed, checked in constant time.

A token is ``<prefix><secret>`` (64 hex digits, as in the seeds' coroner.cf). The database keeps
its first 16 digits (to find the row) and the SHA-256 of the whole token; checking compares the
hashes with :func:`hmac.compare_digest`. A token has scopes: ``submit`` (may only post objects)
and/or ``read`` (may query and download) and/or ``admin`` (may change the project's alert targets,
which hold secrets and decide where crash data is sent).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select

from coresnap.errors import AuthError, ProjectNotFound, StoreError
from coresnap.store.db.models import projects, tokens

SCOPES = ("submit", "read", "admin")
_PREFIX = 16


@dataclass(frozen=True)
class Grant:
    """Who a checked token is: its project (id and name), token name and scopes."""

    project_id: int
    project: str
    token: str
    scopes: frozenset[str]


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_project(conn: Connection, name: str) -> int:
    """Create project ``name``; raises StoreError if the name is invalid or taken."""
    if not name or len(name) > 64 or not all(c.isalnum() or c in "-_." for c in name):
        raise StoreError(f"invalid project name {name!r}", project=name)
    if project_id(conn, name, missing_ok=True) is not None:
        raise StoreError(f"project {name!r} exists", project=name)
    row = conn.execute(insert(projects).values(name=name, created=time.time()))
    return int(row.inserted_primary_key[0])  # type: ignore[index]


def project_id(conn: Connection, name: str, missing_ok: bool = False) -> int | None:
    """The id of project ``name``; raises ProjectNotFound unless ``missing_ok``."""
    pid = conn.execute(select(projects.c.id).where(projects.c.name == name)).scalar()
    if pid is None and not missing_ok:
        raise ProjectNotFound(name)
    return None if pid is None else int(pid)


def create_token(conn: Connection, project: str, name: str, scopes: set[str]) -> str:
    """Create token ``name`` for ``project`` and return it (the only time it is visible).

    Raises ProjectNotFound, or StoreError for an unknown scope or a name already used.
    """
    bad = scopes - set(SCOPES)
    if bad or not scopes:
        raise StoreError(f"scopes must be among {', '.join(SCOPES)}", scopes=sorted(scopes))
    pid = project_id(conn, project)
    taken = select(tokens.c.id).where(tokens.c.project_id == pid, tokens.c.name == name)
    if conn.execute(taken).first() is not None:
        raise StoreError(f"token {name!r} exists in {project!r}", token=name)
    token = secrets.token_hex(32)
    conn.execute(
        insert(tokens).values(
            project_id=pid,
            name=name,
            prefix=token[:_PREFIX],
            hash=_hash(token),
            scopes=",".join(sorted(scopes)),
            created=time.time(),
        )
    )
    return token


def check(conn: Connection, project: str, token: str | None, scope: str) -> Grant:
    """The grant of ``token`` on ``project`` if it has ``scope``.

    Raises AuthError(401) for a missing or unknown token (or one of another project), and
    AuthError(403) for a valid token without ``scope``.
    """
    if not token:
        raise AuthError(401, "missing token (header X-Coroner-Token or Authorization: Bearer)")
    q = (
        select(tokens.c.name, tokens.c.hash, tokens.c.scopes, projects.c.id, projects.c.name)
        .join(projects, projects.c.id == tokens.c.project_id)
        .where(tokens.c.prefix == token[:_PREFIX])
    )
    digest = _hash(token)
    for name, stored, scopes, pid, pname in conn.execute(q):
        if hmac.compare_digest(stored, digest) and pname == project:
            granted = frozenset(scopes.split(","))
            if scope not in granted:
                raise AuthError(403, f"token {name!r} may not {scope}", scope=scope)
            return Grant(int(pid), pname, name, granted)
    raise AuthError(401, f"unknown token for project {project!r}")
