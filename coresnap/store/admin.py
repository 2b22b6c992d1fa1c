"""What ``coronerd project|token|user list/delete/revoke`` read and change.

Listings are plain rows (the CLI prints them); nothing secret is listed (a token's value is
shown once, at ``token create``; its hash stays in the database). Deleting a project deletes
its objects first, rows then blobs by batches as retention does, then the project, whose
tokens, groups, grants and alert targets go with it (``ON DELETE CASCADE``).
"""

from __future__ import annotations

from sqlalchemy import Connection, Engine, delete, func, select

from coresnap.errors import StoreError
from coresnap.store import retention
from coresnap.store.auth import project_id
from coresnap.store.blobs import BlobStore
from coresnap.store.db.engine import writing
from coresnap.store.db.models import groups, objects, projects, tokens, user_projects, users


def list_projects(conn: Connection) -> list[dict[str, object]]:
    """Every project: name, created, objects, groups, tokens (by name)."""
    counted: dict[str, dict[int, int]] = {}
    for table in (objects, groups, tokens):
        per = select(table.c.project_id, func.count()).group_by(table.c.project_id)
        counted[table.name] = {int(pid): int(n) for pid, n in conn.execute(per)}
    rows = conn.execute(select(projects.c.id, projects.c.name, projects.c.created)
                        .order_by(projects.c.name))  # fmt: skip
    return [{"name": name, "created": created, "objects": counted["objects"].get(pid, 0),
             "groups": counted["groups"].get(pid, 0), "tokens": counted["tokens"].get(pid, 0)}
            for pid, name, created in rows]  # fmt: skip


def delete_project(engine: Engine, blobs: BlobStore, name: str) -> int:
    """Delete project ``name`` and everything in it; returns the objects deleted.
    Raises ProjectNotFound."""
    with engine.connect() as conn:
        pid = project_id(conn, name)
    removed = retention.remove(
        engine, blobs, select(objects.c.id).where(objects.c.project_id == pid)
    )
    with writing(engine.connect()) as conn, conn.begin():
        conn.execute(delete(projects).where(projects.c.id == pid))
    return removed


def list_tokens(conn: Connection, project: str | None = None) -> list[dict[str, object]]:
    """The tokens (of ``project``): project, name, scopes, created. Raises ProjectNotFound."""
    q = (select(projects.c.name, tokens.c.name, tokens.c.scopes, tokens.c.created)
         .join(projects, projects.c.id == tokens.c.project_id)
         .order_by(projects.c.name, tokens.c.name))  # fmt: skip
    if project is not None:
        q = q.where(tokens.c.project_id == project_id(conn, project))
    return [{"project": p, "name": n, "scopes": s, "created": c} for p, n, s, c in conn.execute(q)]


def revoke_token(conn: Connection, project: str, name: str) -> None:
    """Delete token ``name`` of ``project``: it no longer authenticates anything.
    Raises ProjectNotFound, or StoreError when the project has no such token."""
    pid = project_id(conn, project)
    done = conn.execute(delete(tokens).where(tokens.c.project_id == pid, tokens.c.name == name))
    if not done.rowcount:
        raise StoreError(f"no token {name!r} in {project!r}", token=name)


def list_users(conn: Connection) -> list[dict[str, object]]:
    """Console users: name, admin, created, projects (names; admins see every project)."""
    seen: dict[int, list[str]] = {}
    grants = (select(user_projects.c.user_id, projects.c.name)
              .join(projects, projects.c.id == user_projects.c.project_id)
              .order_by(projects.c.name))  # fmt: skip
    for uid, pname in conn.execute(grants):
        seen.setdefault(uid, []).append(pname)
    rows = conn.execute(select(users.c.id, users.c.name, users.c.admin, users.c.created)
                        .order_by(users.c.name))  # fmt: skip
    return [{"name": name, "admin": bool(admin), "created": created, "projects": seen.get(uid, [])}
            for uid, name, admin, created in rows]  # fmt: skip


def delete_user(conn: Connection, name: str) -> None:
    """Delete console user ``name`` (their sessions and grants go with them).
    Raises StoreError when there is no such user."""
    if not conn.execute(delete(users).where(users.c.name == name)).rowcount:
        raise StoreError(f"no user {name!r}", user=name)


def revoke_grant(conn: Connection, name: str, project: str) -> None:
    """Undo ``user grant NAME PROJECT``. Raises ProjectNotFound, or StoreError (no such user,
    or no such grant)."""
    uid = conn.execute(select(users.c.id).where(users.c.name == name)).scalar()
    if uid is None:
        raise StoreError(f"no user {name!r}", user=name)
    pid = project_id(conn, project)
    done = conn.execute(delete(user_projects).where(user_projects.c.user_id == uid,
                                                    user_projects.c.project_id == pid))  # fmt: skip
    if not done.rowcount:
        raise StoreError(f"user {name!r} had no grant on {project!r}", user=name)
