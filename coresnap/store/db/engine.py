"""Engines for the store's two databases and the start-up migration.

SQLite runs in WAL mode with a busy timeout, foreign keys on, and write transactions opened
with ``BEGIN IMMEDIATE`` (a deferred transaction that later writes can fail with SQLITE_BUSY
without waiting: the busy handler is not called for a lock upgrade). An RE2 ``regexp`` function
backs ``REGEXP`` (linear time in the value: no pattern can backtrack for minutes); patterns reach
it only after :func:`coresnap.querylang.check_regex`, and it checks the statement's deadline.
PostgreSQL uses psycopg 3; its migrations take an advisory lock so that several coronerd
processes starting together upgrade the schema once.

``statement_timeout`` bounds every statement that is not part of a write transaction: SQLite
through a progress handler (and the ``regexp`` function) that interrupts a statement past its
deadline, PostgreSQL through its
``statement_timeout`` (set for the session, lifted with ``SET LOCAL`` inside write transactions
and for migrations). A query past it fails with :class:`~coresnap.errors.QueryTimeout`.
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError

from coresnap.errors import QueryTimeout
from coresnap.querylang import compile_regex

MIGRATIONS = Path(__file__).parent / "migrations"
# Arbitrary constant naming the lock "coronerd schema migration" for pg_advisory_lock.
_MIGRATION_LOCK = 0x636F726F6E6572
_BUSY_TIMEOUT_MS = 30_000
# One writer lock per SQLite database of this process (see write_lock).
_WRITE_LOCKS: dict[str, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()
# SQLite calls the progress handler every this many virtual machine instructions.
_PROGRESS_STEPS = 10_000
# The execution option that exempts a connection's statements from the statement timeout.
UNBOUNDED = "coresnap_unbounded"


def make_engine(url: str, pool_size: int = 8, statement_timeout: float = 0) -> Engine:
    """An engine for ``url`` (sqlite:///… or postgresql+psycopg://…), configured as above;
    ``statement_timeout`` seconds bound each read statement (0: no bound)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": _BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        if statement_timeout > 0:
            bound = functools.partial(_sqlite_deadline, seconds=statement_timeout)
            event.listen(engine, "before_cursor_execute", bound)
    else:
        args = {}
        if statement_timeout > 0:
            args["options"] = f"-c statement_timeout={int(statement_timeout * 1000)}"
        engine = create_engine(
            url, pool_size=pool_size, max_overflow=4, pool_pre_ping=True, connect_args=args
        )
        event.listen(engine, "begin", _pg_begin)
    if statement_timeout > 0:
        event.listen(engine, "handle_error", _timed_out)
    return engine


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # Autocommit at the driver level: SQLAlchemy's "begin" event below issues BEGIN itself.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
    deadline = _Deadline()
    _record.info["deadline"] = deadline
    dbapi_conn.set_progress_handler(deadline.passed, _PROGRESS_STEPS)
    bounded = functools.partial(_regexp, deadline=deadline, interrupt=dbapi_conn.interrupt)
    dbapi_conn.create_function("regexp", 2, bounded, deterministic=True)


class _Deadline:
    """When the running statement of one SQLite connection is to be interrupted."""

    def __init__(self) -> None:
        self.at = math.inf

    def passed(self) -> int:
        return 1 if time.monotonic() > self.at else 0  # non-zero: SQLite interrupts


def _sqlite_deadline(
    conn: Connection, _cursor: Any, _stmt: str, _params: Any, _ctx: Any, _many: bool, seconds: float
) -> None:
    deadline = conn.info.get("deadline")
    if isinstance(deadline, _Deadline):
        unbounded = conn.get_execution_options().get(UNBOUNDED)
        deadline.at = math.inf if unbounded else time.monotonic() + seconds


def _sqlite_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


def _pg_begin(conn: Connection) -> None:
    if conn.get_execution_options().get(UNBOUNDED):
        conn.exec_driver_sql("SET LOCAL statement_timeout = 0")


def _timed_out(context: Any) -> None:
    # SQLite's "interrupted" (the progress handler) and PostgreSQL's query_canceled (57014).
    error = context.original_exception
    sqlstate = getattr(error, "sqlstate", None)
    if sqlstate == "57014" or (
        isinstance(context.sqlalchemy_exception, OperationalError) and "interrupted" in str(error)
    ):
        raise QueryTimeout() from error


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    return compile_regex(pattern)


def _regexp(pattern: str | None, value: str | None, deadline: _Deadline, interrupt: Any) -> bool:
    # SQLite calls REGEXP(pattern, value) for "value REGEXP pattern". One call may take
    # milliseconds (RE2 is linear, but a counted repetition multiplies its states) while the
    # statement runs few VM instructions per row: the progress handler alone would look at the
    # deadline only after thousands of calls, so each call looks at it too.
    if pattern is None or value is None:
        return False
    if deadline.passed():
        interrupt()  # the statement ends with "interrupted": QueryTimeout, as the handler's
        return False
    return _compiled(pattern).search(value) is not None


def writing(conn: Connection) -> Connection:
    """``conn`` set to open its next transaction for writing (BEGIN IMMEDIATE on SQLite), its
    statements exempt from the statement timeout (a write is never cut half-way by it)."""
    if is_sqlite(conn):
        return conn.execution_options(sqlite_begin="IMMEDIATE", **{UNBOUNDED: True})
    return conn.execution_options(**{UNBOUNDED: True})


def reading(conn: Connection) -> Connection:
    """``conn`` set for reads outside any transaction (autocommit on PostgreSQL).

    psycopg ends a transaction that only read with a ROLLBACK, which also drops the
    connection's prepared statements (DEALLOCATE ALL): two round trips, and every statement
    planned again. SQLite reads keep their (free) deferred transaction.
    """
    return conn if is_sqlite(conn) else conn.execution_options(isolation_level="AUTOCOMMIT")


def write_lock(engine: Engine) -> contextlib.AbstractContextManager[object]:
    """A lock to hold around a write transaction of ``engine`` (taken before the connection).

    SQLite has one writer at a time; a writer waiting in SQLite's busy handler sleeps by steps
    up to 100 ms and may oversleep the lock by as much, so the threads of one process queue on a
    Python lock instead and the next starts as soon as the previous commits (other processes
    still wait in the busy handler). PostgreSQL locks rows, not the database: no lock.
    """
    if not is_sqlite(engine):
        return contextlib.nullcontext()
    key = str(engine.url)
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, threading.Lock())


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (run by coronerd at start-up)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect().execution_options(**{UNBOUNDED: True}) as conn:
        if not is_sqlite(engine):
            conn.execute(text("SET statement_timeout = 0"))  # a migration takes what it takes
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _MIGRATION_LOCK})
            conn.commit()
        try:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.commit()
        finally:
            if not is_sqlite(engine):
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _MIGRATION_LOCK})
                conn.execute(text("RESET statement_timeout"))
                conn.commit()
