"""The bounds docs/store.md promises: learned symbols per build and per project, aliases per
group; on SQLite and PostgreSQL, through the functions ingest and regroup keep them with."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, Table, func, insert, select

from coresnap.store import aliases, learned, symbols
from coresnap.store.db.engine import make_engine, writing
from coresnap.store.db.models import (
    group_aliases,
    groups,
    learned_builds,
    learned_functions,
    learned_pcs,
)
from tests.store.coronerd_server import Server
from tests.store.regroup_crashes import project_id


@pytest.fixture
def engine(store: Server) -> Iterator[Engine]:
    e = make_engine(store.database_url)
    try:
        yield e
    finally:
        e.dispose()


def _keep(engine: Engine, pid: int, facts: symbols.Symbols) -> int:
    with writing(engine.connect()) as conn, conn.begin():
        return learned.learn(conn, pid, facts)


def _count(engine: Engine, table: Table, pid: int, **where: object) -> int:
    q = select(func.count()).select_from(table).where(table.c.project_id == pid)
    for column, value in where.items():
        q = q.where(table.c[column] == value)
    with engine.connect() as conn:
        return int(conn.execute(q).scalar_one())


def _pid(store: Server, engine: Engine) -> int:
    return project_id(engine, store.project("b").name)


def test_a_build_keeps_at_most_its_share_of_functions_and_pcs(
    store: Server, engine: Engine
) -> None:
    pid = _pid(store, engine)
    build = "ab" * 20
    extra = 5
    facts = symbols.Symbols(
        {(build, 16 * i): f"f{i}" for i in range(symbols.MAX_FUNCTIONS + extra)},
        {(build, 16 * i + 3): [{"function": f"f{i}"}] for i in range(symbols.MAX_PCS + extra)},
    )
    assert _keep(engine, pid, facts) == symbols.MAX_FUNCTIONS + symbols.MAX_PCS
    assert _count(engine, learned_functions, pid) == symbols.MAX_FUNCTIONS
    assert _count(engine, learned_pcs, pid) == symbols.MAX_PCS
    assert _keep(engine, pid, facts) == 0  # known, or no room: nothing more
    with engine.connect() as conn:
        known = learned.lookup(
            conn,
            pid,
            {"threads": [{"crashed": True, "frames": [{"build_id": build, "module_offset": 3}]}]},
        )
    assert (build, "functions") in known.full and (build, "pcs") in known.full
    assert not symbols.news(facts, known)  # ingest does not even try once a build is full


def test_a_project_keeps_its_newest_builds(store: Server, engine: Engine) -> None:
    pid = _pid(store, engine)
    builds = [f"{i:040x}" for i in range(symbols.MAX_BUILDS + 2)]
    for b in builds:
        _keep(engine, pid, symbols.Symbols({(b, 0x10): "main"}, {}))
        time.sleep(0.002)  # "learned" orders the builds
    assert _count(engine, learned_builds, pid) == symbols.MAX_BUILDS
    assert _count(engine, learned_functions, pid) == symbols.MAX_BUILDS
    for gone in builds[:2]:  # the stalest builds were forgotten, with their facts
        assert _count(engine, learned_functions, pid, build_id=gone) == 0
    assert _count(engine, learned_functions, pid, build_id=builds[-1]) == 1


def test_a_group_row_registers_at_most_its_share_of_aliases(store: Server, engine: Engine) -> None:
    pid = _pid(store, engine)
    now = time.time()
    with writing(engine.connect()) as conn, conn.begin():
        gid = conn.execute(
            insert(groups).values(
                project_id=pid,
                fingerprint="cd" * 32,
                first_seen=now,
                last_seen=now,
                count=0,
                state="open",
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        keys = [f"{i:064x}" for i in range(aliases.MAX_PER_GROUP + 4)]
        assert aliases.register(conn, pid, gid, keys, "set_width") == aliases.MAX_PER_GROUP
        assert aliases.register(conn, pid, gid, keys, "set_width") == 0
    assert _count(engine, group_aliases, pid) == aliases.MAX_PER_GROUP
