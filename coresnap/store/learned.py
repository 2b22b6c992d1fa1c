"""The learned symbols in the database: read the facts a snapshot needs, keep new ones.

The rules (what is learned, what is filled, the bounds) are in ``symbols.py``. Facts are kept
inside the ingest (or regroup) transaction; a build's row is locked while its facts are added
and its counts move, and new builds of a project are added one at a time (the project row is
locked), so the bounds hold exactly under concurrent uploads.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from coresnap.store.db.models import learned_builds, learned_functions, learned_pcs, projects
from coresnap.store.symbols import MAX_BUILDS, MAX_FUNCTIONS, MAX_PCS, Symbols, wanted


def lookup(conn: Connection, project_id: int, doc: dict[str, Any]) -> Symbols:
    """The learned facts of ``project_id`` that concern ``doc``'s crashed thread."""
    functions, pcs = wanted(doc)
    known = Symbols()
    if not pcs:
        return known
    if functions:
        q = select(learned_functions).where(
            learned_functions.c.project_id == project_id,
            tuple_(learned_functions.c.build_id, learned_functions.c.function_start).in_(
                sorted(functions)
            ),
        )
        for row in conn.execute(q):
            known.functions[(row.build_id, row.function_start)] = row.name
    q = select(learned_pcs).where(
        learned_pcs.c.project_id == project_id,
        tuple_(learned_pcs.c.build_id, learned_pcs.c.module_offset).in_(sorted(pcs)),
    )
    for row in conn.execute(q):
        known.pcs[(row.build_id, row.module_offset)] = json.loads(row.frames)
    builds = {b for b, _ in pcs}
    q = select(learned_builds).where(
        learned_builds.c.project_id == project_id, learned_builds.c.build_id.in_(sorted(builds))
    )
    for row in conn.execute(q):
        if row.functions >= MAX_FUNCTIONS:
            known.full.add((row.build_id, "functions"))
        if row.pcs >= MAX_PCS:
            known.full.add((row.build_id, "pcs"))
    return known


def learn(conn: Connection, project_id: int, new: Symbols) -> int:
    """Keep ``new`` facts (from :func:`news`) inside the caller's write transaction, within the
    bounds; returns how many were kept."""
    kept = 0
    for build in sorted({b for b, _ in new.functions} | {b for b, _ in new.pcs}):
        row = _build_row(conn, project_id, build)
        functions = _missing(
            conn,
            learned_functions,
            learned_functions.c.function_start,
            project_id,
            build,
            {s: n for (b, s), n in new.functions.items() if b == build},
        )[: max(0, MAX_FUNCTIONS - row.functions)]
        pcs = _missing(
            conn,
            learned_pcs,
            learned_pcs.c.module_offset,
            project_id,
            build,
            {o: c for (b, o), c in new.pcs.items() if b == build},
        )[: max(0, MAX_PCS - row.pcs)]
        base = {"project_id": project_id, "build_id": build}
        if functions:
            conn.execute(
                insert(learned_functions),
                [{**base, "function_start": s, "name": n} for s, n in functions],
            )
        if pcs:
            conn.execute(
                insert(learned_pcs),
                [{**base, "module_offset": o, "frames": json.dumps(c)} for o, c in pcs],
            )
        if functions or pcs:
            conn.execute(
                update(learned_builds)
                .where(
                    learned_builds.c.project_id == project_id, learned_builds.c.build_id == build
                )
                .values(
                    functions=row.functions + len(functions),
                    pcs=row.pcs + len(pcs),
                    learned=time.time(),
                )
            )
        kept += len(functions) + len(pcs)
    return kept


def _missing(
    conn: Connection, table: Any, column: Any, project_id: int, build: str, facts: dict[int, Any]
) -> list[tuple[int, Any]]:
    """The facts of ``build`` not stored yet (read under the build row's lock), in key order."""
    if not facts:
        return []
    q = select(column).where(
        table.c.project_id == project_id, table.c.build_id == build, column.in_(sorted(facts))
    )
    stored = set(conn.execute(q).scalars())
    return [(k, facts[k]) for k in sorted(facts) if k not in stored]


def _build_row(conn: Connection, project_id: int, build: str) -> Any:
    """The locked row of ``build``, created (forgetting the project's stalest build when it
    has :data:`MAX_BUILDS`) if missing."""
    q = (
        select(learned_builds)
        .where(learned_builds.c.project_id == project_id, learned_builds.c.build_id == build)
        .with_for_update()
    )
    row = conn.execute(q).first()
    if row is not None:
        return row
    # New builds of a project are added one at a time, so the bound holds exactly.
    conn.execute(select(projects.c.id).where(projects.c.id == project_id).with_for_update())
    count = select(func.count()).where(learned_builds.c.project_id == project_id)
    if conn.execute(count).scalar_one() >= MAX_BUILDS:
        stalest = (
            select(learned_builds.c.build_id)
            .where(learned_builds.c.project_id == project_id)
            .order_by(learned_builds.c.learned, learned_builds.c.build_id)
            .limit(1)
        )
        gone = conn.execute(stalest).scalar_one()
        _forget(conn, project_id, [gone])
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(
        dialect.insert(learned_builds)
        .values(project_id=project_id, build_id=build, functions=0, pcs=0, learned=time.time())
        .on_conflict_do_nothing()
    )
    return conn.execute(q).one()


def _forget(conn: Connection, project_id: int, builds: Iterable[str]) -> None:
    for build in builds:
        for table in (learned_functions, learned_pcs, learned_builds):
            conn.execute(
                delete(table).where(table.c.project_id == project_id, table.c.build_id == build)
            )
