"""Regroup, step 3: carry a plan out in bounded transactions.

Every transaction leaves the store consistent: each object in exactly one group, which is an
effective group (not merged); every group's count equal to its objects; every merged row
pointing at an effective group; no object, state, ticket or event lost. In order:

1. learned symbols found in stored snapshots are kept (a few builds per transaction);
2. final groups are made ready (a new row, or a row taken out of a group that empties), with
   their aliases and the rows of the keys their aliases joined (up to ``batch`` per transaction);
3. each part moves at most ``batch`` objects per transaction, with both groups' rows locked (in
   id order, as ingest locks them); the first transaction of a part hands on state and tickets
   and records a ``split`` / ``merge`` event on each side; the transaction that moves the last
   objects of a source that empties also makes its rows merged into the heir, moves whatever
   concurrent uploads added to it meanwhile and hands its history over;
4. objects whose key and group stay get their new version and learned fills.

A run killed between two transactions leaves some parts done and others not; run again, regroup
computes the same plan for what is left (``plan.py``, step 4) and finishes it.
"""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from coresnap.store import aliases, grouping, heritage, learned, symbols
from coresnap.store.db.engine import write_lock, writing
from coresnap.store.db.models import attributes, groups, objects
from coresnap.store.ingest import LEARNED_ATTRIBUTE
from coresnap.store.regroup.plan import Final, Part, Plan

WHO = "coronerd regroup"
_BUILDS_PER_TRANSACTION = 8
Progress = Callable[[str, int, int], None]


def apply(engine: Engine, plan: Plan, batch: int, progress: Progress) -> None:
    """Carry ``plan`` out (steps 1-4 of the module doc)."""
    _learn(engine, plan)
    ids = _prepare(engine, plan, batch)
    total, done = plan.moving(), 0
    for part in plan.parts:
        for chunk, first, last in _chunks(part.objects, batch):
            with _transaction(engine) as conn:
                done += _move(conn, plan, part, ids[part.target], chunk, first, last)
            progress("moving objects", done, total)
    for chunk, _, _ in _chunks(plan.refresh, batch):
        with _transaction(engine) as conn:
            _update(conn, plan, chunk, None)


@contextlib.contextmanager
def _transaction(engine: Engine) -> Iterator[Connection]:
    """A write transaction (BEGIN IMMEDIATE on SQLite, behind this process's writer lock)."""
    with write_lock(engine), writing(engine.connect()) as conn, conn.begin():
        yield conn


def _chunks(ids: Sequence[int], size: int) -> Iterator[tuple[list[int], bool, bool]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size]), start == 0, start + size >= len(ids)


def _learn(engine: Engine, plan: Plan) -> None:
    taught = plan.reading.taught
    builds = sorted({b for b, _ in taught.functions} | {b for b, _ in taught.pcs})
    for start in range(0, len(builds), _BUILDS_PER_TRANSACTION):
        some = set(builds[start : start + _BUILDS_PER_TRANSACTION])
        part = symbols.Symbols(
            {k: v for k, v in taught.functions.items() if k[0] in some},
            {k: v for k, v in taught.pcs.items() if k[0] in some},
        )
        with _transaction(engine) as conn:
            learned.learn(conn, plan.project_id, part)


def _prepare(engine: Engine, plan: Plan, batch: int) -> dict[str, int]:
    """Step 2: the group id of each final key."""
    ids: dict[str, int] = {}
    finals = list(plan.finals.values())
    for start in range(0, len(finals), batch):
        with _transaction(engine) as conn:
            for final in finals[start : start + batch]:
                ids[final.key] = _ready(conn, plan, final)
    return ids


def _ready(conn: Connection, plan: Plan, final: Final) -> int:
    pid = plan.project_id
    if final.row_id is None:
        gid = _row(conn, pid, final.key, None, final)
    else:
        gid = final.row_id
        if final.unmerge:
            conn.execute(update(groups).where(groups.c.id == gid).values(merged_into=None))
            grouping.record(
                conn, gid, "split", WHO, "its own group again: its merge target empties"
            )
    aliases.register(conn, pid, gid, final.aliases, final.blamed)
    aliases.register_weak(conn, pid, gid, final.weak, final.site)
    for key, alias in sorted(final.joined.items()):
        if grouping.find(conn, pid, key) is None:
            _row(conn, pid, key, gid, final)
            grouping.record(conn, gid, "merge", WHO, f"{key} joined (alias {alias})")
    return gid


def _row(conn: Connection, pid: int, key: str, into: int | None, final: Final) -> int:
    """The row of ``key`` (created if missing, merged into ``into``); its id."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    values = dict(
        project_id=pid,
        fingerprint=key,
        merged_into=into,
        first_seen=final.first_seen,
        last_seen=final.last_seen,
        count=0,
        state="open",
        frames="\n".join(final.frames),
    )
    conn.execute(dialect.insert(groups).values(**values).on_conflict_do_nothing())
    row = grouping.find(conn, pid, key)
    assert row is not None  # inserted now or by a concurrent upload
    return int(row["id"]) if into is not None else int(row["merged_into"] or row["id"])


def _move(
    conn: Connection,
    plan: Plan,
    part: Part,
    target: int,
    chunk: list[int],
    first: bool,
    last: bool,
) -> int:
    """Step 3 for one transaction of ``part``; returns how many objects it moved."""
    rows = heritage.lock(conn, part.source, target)
    source, into = rows[part.source], rows[target]
    present = conn.execute(
        select(objects.c.id, objects.c.timestamp)
        .where(objects.c.id.in_(chunk), objects.c.group_id == part.source)
        .with_for_update()
    ).all()
    moved = [r.id for r in present]
    _update(conn, plan, moved, target)
    if target != part.source and moved:
        seen = (min(r.timestamp for r in present), max(r.timestamp for r in present))
        heritage.settle(conn, part.source, -len(moved))
        heritage.settle(conn, target, len(moved), seen)
    if target != part.source and first:
        heritage.inherit_state(conn, source, into)
        heritage.copy_tickets(conn, part.source, target)
        if not part.heir:
            n, why = len(part.objects), part.reason
            grouping.record(
                conn, part.source, "split", WHO, f"{n} to {into['fingerprint']} ({why})"
            )
            # Into a group of its own: the split's other side; into one with objects: a merge.
            action, side = ("merge", "from") if into["count"] else ("split", "split off")
            grouping.record(
                conn, target, action, WHO, f"{n} {side} {source['fingerprint']} ({why})"
            )
    if part.heir and last:
        _empty(conn, part, source, into)
    return len(moved)


def _empty(conn: Connection, part: Part, source: Any, into: Any) -> None:
    """The source of ``part`` empties into its heir (the end of step 3): its rows follow the
    heir, and objects uploaded to it since the plan go where their own key's row says."""
    conn.execute(
        update(groups)
        .where((groups.c.id == part.source) | (groups.c.merged_into == part.source))
        .values(merged_into=into["id"])
    )
    row = groups.alias("row")
    rest = conn.execute(
        select(objects.c.id, objects.c.timestamp, func.coalesce(row.c.merged_into, row.c.id))
        .join(
            row,
            (row.c.project_id == objects.c.project_id)
            & (row.c.fingerprint == objects.c.fingerprint),
        )
        .where(objects.c.group_id == part.source)
        .with_for_update(of=objects)
    ).all()
    bound: dict[int, list[Any]] = defaultdict(list)
    for r in rest:
        bound[int(r[2])].append(r)
    for target, moved in sorted(bound.items()):
        ids = [r[0] for r in moved]
        conn.execute(update(objects).where(objects.c.id.in_(ids)).values(group_id=target))
        seen = (min(r[1] for r in moved), max(r[1] for r in moved))
        heritage.settle(conn, target, len(ids), seen)
    conn.execute(update(groups).where(groups.c.id == part.source).values(count=0))
    heritage.move_history(conn, part.source, int(into["id"]))
    grouping.record(
        conn, int(into["id"]), "merge", WHO, f"{source['fingerprint']} merged in ({part.reason})"
    )


_SET = (
    update(objects)
    .where(objects.c.id == bindparam("b_id"))
    .values(fingerprint=bindparam("fp"), fp_version=bindparam("ver"), learned=bindparam("lrn"))
)


def _update(conn: Connection, plan: Plan, ids: list[int], group: int | None) -> None:
    """Give objects ``ids`` their planned key, version and fills (and ``group``)."""
    if not ids:
        return
    stmt = _SET if group is None else _SET.values(group_id=group)
    moves = [plan.moves[i] for i in ids]
    conn.execute(
        stmt,
        [
            {"b_id": i, "fp": m.fingerprint, "ver": m.fp_version, "lrn": m.learned}
            for i, m in zip(ids, moves, strict=True)
        ],
    )
    conn.execute(
        delete(attributes).where(
            attributes.c.object_id.in_(ids), attributes.c.key == LEARNED_ATTRIBUTE
        )
    )
    filled = [(i, len(json.loads(m.learned))) for i, m in zip(ids, moves, strict=True) if m.learned]
    if filled:
        conn.execute(
            insert(attributes),
            [
                {
                    "object_id": i,
                    "key": LEARNED_ATTRIBUTE,
                    "value_text": str(n),
                    "value_num": float(n),
                }
                for i, n in filled
            ],
        )
