"""Console users: scrypt password hashes, sessions behind a cookie, per-project access.

A password hash is ``scrypt$<n>$<r>$<p>$<salt hex>$<key hex>``: the parameters travel with the
hash, so they can be raised later without breaking old passwords. A session cookie carries a
random token; the database keeps only its SHA-256 (a leaked table opens no session) and the
session's CSRF token, which every console form echoes back.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select

from coresnap.errors import StoreError
from coresnap.store.auth import project_id
from coresnap.store.db.models import projects, sessions, user_projects, users

# scrypt cost: 2**14 x 8 uses 16 MiB and ~50 ms, OWASP's minimum for interactive logins.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SESSION_LIFETIME = 14 * 86400
MIN_PASSWORD = 8
_DUMMY = "scrypt$16384$8$1$00$00"


@dataclass(frozen=True)
class User:
    id: int
    name: str
    admin: bool
    csrf: str = ""


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password`` with its parameters."""
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${key.hex()}"


def check_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time comparison of the keys)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        expected = bytes.fromhex(key)
        got = hashlib.scrypt(
            password.encode(),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected) or 32,
            maxmem=64 << 20,
        )
    except ValueError:
        return False
    return scheme == "scrypt" and hmac.compare_digest(got, expected)


def create_user(conn: Connection, name: str, password: str, admin: bool = False) -> int:
    """Create user ``name``; raises StoreError for a bad or taken name or a short password."""
    if not name or len(name) > 64 or not all(c.isalnum() or c in "-_.@" for c in name):
        raise StoreError(f"invalid user name {name!r}", user=name)
    if len(password) < MIN_PASSWORD:
        raise StoreError(f"password shorter than {MIN_PASSWORD} characters", user=name)
    if conn.execute(select(users.c.id).where(users.c.name == name)).first() is not None:
        raise StoreError(f"user {name!r} exists", user=name)
    row = conn.execute(
        insert(users).values(
            name=name, password_hash=hash_password(password), admin=admin, created=time.time()
        )
    )
    return int(row.inserted_primary_key[0])  # type: ignore[index]


def grant(conn: Connection, name: str, project: str) -> None:
    """Let user ``name`` see and change ``project``; raises StoreError / ProjectNotFound."""
    uid = conn.execute(select(users.c.id).where(users.c.name == name)).scalar()
    if uid is None:
        raise StoreError(f"no user {name!r}", user=name)
    pid = project_id(conn, project)
    have = select(user_projects).where(
        user_projects.c.user_id == uid, user_projects.c.project_id == pid
    )
    if conn.execute(have).first() is None:
        conn.execute(insert(user_projects).values(user_id=uid, project_id=pid))


def authenticate(conn: Connection, name: str, password: str) -> User | None:
    """The user ``name`` if ``password`` is theirs (an unknown name costs the same time)."""
    row = conn.execute(select(users).where(users.c.name == name)).mappings().first()
    ok = check_password(password, row["password_hash"] if row else _DUMMY)
    return User(int(row["id"]), row["name"], bool(row["admin"])) if row and ok else None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(conn: Connection, user: User) -> str:
    """A new session of ``user``; returns the cookie token (stored only as its SHA-256)."""
    token, now = secrets.token_urlsafe(32), time.time()
    conn.execute(
        insert(sessions).values(
            hash=_digest(token),
            user_id=user.id,
            csrf=secrets.token_urlsafe(32),
            created=now,
            expires=now + SESSION_LIFETIME,
        )
    )
    conn.execute(delete(sessions).where(sessions.c.expires < now))
    return token


def session_user(conn: Connection, token: str | None) -> User | None:
    """The user of a live session cookie, with the session's CSRF token; None otherwise."""
    if not token or len(token) > 128:
        return None
    q = (
        select(users.c.id, users.c.name, users.c.admin, sessions.c.csrf, sessions.c.expires)
        .join(users, users.c.id == sessions.c.user_id)
        .where(sessions.c.hash == _digest(token))
    )
    row = conn.execute(q).first()
    if row is None or row.expires < time.time():
        return None
    return User(int(row.id), row.name, bool(row.admin), row.csrf)


def close_session(conn: Connection, token: str | None) -> None:
    if token:
        conn.execute(delete(sessions).where(sessions.c.hash == _digest(token)))


def visible_projects(conn: Connection, user: User) -> list[tuple[int, str]]:
    """(id, name) of the projects ``user`` may see, by name."""
    q = select(projects.c.id, projects.c.name).order_by(projects.c.name)
    if not user.admin:
        mine = select(user_projects.c.project_id).where(user_projects.c.user_id == user.id)
        q = q.where(projects.c.id.in_(mine))
    return [(int(i), str(n)) for i, n in conn.execute(q)]


def project_for(conn: Connection, user: User, name: str) -> int | None:
    """The id of project ``name`` if ``user`` may see it (None: absent or not theirs)."""
    pid = project_id(conn, name, missing_ok=True)
    if pid is None or user.admin:
        return pid
    q = select(user_projects).where(
        user_projects.c.user_id == user.id, user_projects.c.project_id == pid
    )
    return pid if conn.execute(q).first() is not None else None
