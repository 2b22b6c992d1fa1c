"""Group aliases: other keys of the same crash join objects to the group that already has it.

A fingerprint's ``aliases`` spell the crash site by machine address (module + pc offset), so a
build without names or without ``-g`` meets its twin whose primary key differs. The table keeps
(project, alias) -> the group row of the fingerprint that first brought it. At ingest (and
regroup), before an object is counted:

1. its primary key has no group but an alias is known in the project: a row for the key is
   created *merged into* that alias's group (the object, and every later one of that key, counts
   there; ``unmerge`` undoes it like any merge);
2. its primary key's group and an alias's group differ: the two groups share a crash, so the
   younger (higher id) is merged into the older, with the reason ``alias <key>``;
3. aliases not known yet are registered to its key's row.

Guards against over-merging: aliases are looked up only in the object's own project; an alias
joins only crashes blamed on the same function, or where one side has no name (the address key
is module + pc offset, and the same offset in another build of a program is other code); a
group row registers at most :data:`MAX_PER_GROUP` aliases (a key that keeps bringing new
addresses stops spreading); a row a person unmerged (``pinned``) is never merged by an alias
again, in either direction.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from coresnap.store import grouping, heritage
from coresnap.store.db.models import group_aliases, groups

MAX_PER_GROUP = 16
WHO = "coronerd"


@dataclass(frozen=True)
class Known:
    group_id: int  # the effective group of the alias's row
    pinned: bool  # the row or its group was unmerged by a person
    blamed: str | None


def _known_query() -> Select[Any]:
    row, eff = groups.alias("row"), groups.alias("eff")
    return (
        select(group_aliases.c.alias, eff.c.id, row.c.pinned, eff.c.pinned, group_aliases.c.blamed)
        .join(row, row.c.id == group_aliases.c.group_id)
        .join(eff, eff.c.id == func.coalesce(row.c.merged_into, row.c.id))
        .where(
            group_aliases.c.project_id == bindparam("pid"),
            group_aliases.c.alias.in_(bindparam("keys", expanding=True)),
        )
    )


# Built once: an aliased table proxies every column of ``groups`` each time it is made (that
# was half of ingest's time when built per call).
_KNOWN = _known_query()


def known(conn: Connection, project_id: int, keys: Sequence[str]) -> dict[str, Known]:
    """What the project knows of each of ``keys``."""
    if not keys:
        return {}
    rows = conn.execute(_KNOWN, {"pid": project_id, "keys": sorted(set(keys))})
    return {a: Known(int(g), bool(p1 or p2), b) for a, g, p1, p2, b in rows}


def usable(found: dict[str, Known], blamed: str | None) -> dict[str, int]:
    """alias -> group for the known aliases that may join or merge an object blamed on
    ``blamed``: not pinned, and not blamed on another function."""
    return {
        a: k.group_id
        for a, k in found.items()
        if not k.pinned and (k.blamed is None or blamed is None or k.blamed == blamed)
    }


def place(
    conn: Connection,
    project_id: int,
    fingerprint: str,
    keys: Sequence[str],
    blamed: str | None,
    ts: float,
    frames: str,
) -> list[str]:
    """Steps 1 and 2 of the module doc for an object of ``fingerprint`` with aliases ``keys``
    blamed on function ``blamed`` (inside the ingest transaction, before
    ``grouping.observe``); returns the keys not known yet, for :func:`register` once the
    object's row exists."""
    if not keys:
        return []
    found = known(conn, project_id, keys)
    row = grouping.find(conn, project_id, fingerprint)
    joins = usable(found, blamed)
    if row is None and joins:
        alias, target = min(joins.items(), key=lambda item: (item[1], item[0]))
        row = _join(conn, project_id, fingerprint, target, ts, frames, alias)
    elif row is not None and not row["pinned"]:
        mine = int(row["merged_into"] or row["id"])
        for alias, other in sorted(joins.items(), key=lambda item: item[1]):
            if other != mine:
                older, younger = sorted((mine, other))
                heritage.absorb(conn, younger, older, WHO, f"alias {alias}")
                mine = older
    return [k for k in keys if k not in found]


def _join(
    conn: Connection,
    project_id: int,
    fingerprint: str,
    target: int,
    ts: float,
    frames: str,
    alias: str,
) -> RowMapping:
    """Create ``fingerprint``'s row merged into group ``target`` (case 1)."""
    heritage.lock(conn, target)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    values = dict(
        project_id=project_id,
        fingerprint=fingerprint,
        merged_into=target,
        first_seen=ts,
        last_seen=ts,
        count=0,
        state="open",
        frames=frames,
    )
    ins = dialect.insert(groups).values(**values).on_conflict_do_nothing()
    made = conn.execute(ins.returning(groups.c.id)).first() is not None
    row = grouping.find(conn, project_id, fingerprint)
    assert row is not None  # inserted now or by a concurrent upload
    if made:
        grouping.record(conn, target, "merge", WHO, f"{fingerprint} joined (alias {alias})")
    return row


def register(
    conn: Connection, project_id: int, row_id: int, keys: Sequence[str], blamed: str | None
) -> int:
    """Register ``keys`` to group row ``row_id`` while it has room; returns how many were.
    The row is locked so that concurrent uploads keep the bound exactly."""
    if not keys:
        return 0
    heritage.lock(conn, row_id)
    have = select(func.count()).where(group_aliases.c.group_id == row_id)
    room = MAX_PER_GROUP - int(conn.execute(have).scalar_one())
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    now, added = time.time(), 0
    for key in sorted(set(keys))[: max(0, room)]:
        ins = dialect.insert(group_aliases).values(
            project_id=project_id, alias=key, group_id=row_id, blamed=blamed, created=now
        )
        ins = ins.on_conflict_do_nothing().returning(group_aliases.c.alias)
        added += conn.execute(ins).first() is not None
    return added


# --- function keys ("weak" aliases) ----------------------------------------------------------
#
# A build without line tables (-O2 without -g) spells its crash site ``+0x1f`` where its -g twin
# says ``proto.c:59``, so the two keys differ, and their addresses differ too when the builds'
# code does (no -g twin of the same build id, or a compiler whose code changes with -g). The
# fingerprint's ``weak`` keys name the blamed function (and the real function an inline one
# sits in) without the site. The table keeps a function key -> the group that brought it, with
# its mark in ``blamed``: the site of a crash with a line, LINELESS for one without, AMBIGUOUS
# once crashes with a line at two sites (two bugs of one function) brought it. Then:
#
# - a crash without a line joins the group with a line of its key, when that group is the only
#   one (the mark is a site);
# - a crash with a line takes in the group without a line of its key (the mark was LINELESS);
#   its site becomes the mark;
# - a crash with a line at another site than the mark makes the key AMBIGUOUS: it joins nothing
#   from then on (a crash without a line that joined before stays where it is: that is the cost
#   of joining at all, shown in the group's history as ``weak alias <key>``).

LINELESS = "+"
AMBIGUOUS = "*"


def lined(site: str | None) -> bool:
    """Whether a fingerprint's site is a source line (not ``+0x..``, not absent)."""
    return bool(site) and not str(site).startswith("+")


# The rules above as two pure functions, the one statement of them: ingest applies them one
# crash at a time (place_weak, register_weak), the regroup planner to all crashes at once.


def fold_mark(mark: str | None, site: str | None) -> str:
    """A function key's mark once a crash at ``site`` brought it (``mark`` None: new key)."""
    new = str(site)[:512] if lined(site) else LINELESS
    if mark is None or (mark == LINELESS and lined(site)):
        return new
    if lined(mark) and lined(site) and mark != new:
        return AMBIGUOUS
    return mark


def weak_joins(mark: str | None, site: str | None) -> bool:
    """Whether a crash at ``site`` joins the group of a function key marked ``mark``: a crash
    without a line meets the one group with a line, or a crash with a line the group without."""
    if mark is None or mark == AMBIGUOUS:
        return False
    return lined(mark) != lined(site)


def _mark(conn: Connection, project_id: int, key: str, group_id: int, mark: str) -> None:
    conn.execute(
        update(group_aliases)
        .where(group_aliases.c.project_id == project_id, group_aliases.c.alias == key)
        .values(group_id=group_id, blamed=mark)
    )


def place_weak(
    conn: Connection,
    project_id: int,
    fingerprint: str,
    keys: Sequence[str],
    site: str | None,
    ts: float,
    frames: str,
) -> list[str]:
    """The function keys' joins and merges (the section above) for an object of
    ``fingerprint`` at ``site``, inside the ingest transaction before ``grouping.observe``;
    returns the keys for :func:`register_weak` once the object's row exists. Marks change
    only there, after the object's group row is locked: a key's row is written after a group
    row, always, so two uploads cannot wait on each other in the other order (PostgreSQL
    found that deadlock when marks changed here)."""
    if not keys:
        return []
    found = known(conn, project_id, keys)
    for key in sorted(found):
        k = found[key]
        if k.pinned or k.blamed == AMBIGUOUS:
            continue
        row = grouping.find(conn, project_id, fingerprint)
        if row is not None and row["pinned"]:
            return [x for x in keys if x not in found]
        mine = None if row is None else int(row["merged_into"] or row["id"])
        if not weak_joins(k.blamed, site):
            continue  # the same site, two crashes without a line, or another site of the
            # function (register_weak marks the key AMBIGUOUS then)
        # A crash without a line meets a lined group, or a lined crash a lineless group.
        if mine is None:
            row = _join(conn, project_id, fingerprint, k.group_id, ts, frames, f"weak {key}")
            mine = k.group_id
        elif mine != k.group_id:
            older, younger = sorted((mine, k.group_id))
            heritage.absorb(conn, younger, older, WHO, f"weak alias {key}")
    return list(keys)


def register_weak(
    conn: Connection, project_id: int, row_id: int, keys: Sequence[str], site: str | None
) -> int:
    """Register function ``keys`` to row ``row_id`` with their mark (see above); a key
    another group brought with a line at another site becomes AMBIGUOUS."""
    found = known(conn, project_id, keys)
    new = [k for k in keys if k not in found]  # the usual case, a known crash: none
    added = register(conn, project_id, row_id, new, fold_mark(None, site))
    if added < len(new):  # a concurrent upload registered some (or the row is full)
        found = known(conn, project_id, keys)
    if lined(site):
        row = conn.execute(select(groups.c.merged_into).where(groups.c.id == row_id)).first()
        mine = int(row[0] or row_id) if row is not None else row_id
        for key, k in sorted(found.items()):
            mark = fold_mark(k.blamed, site)
            if k.blamed == LINELESS and k.group_id == mine:
                _mark(conn, project_id, key, mine, mark)  # the lineless group is ours now
            elif k.group_id != mine and mark == AMBIGUOUS != k.blamed:
                _mark(conn, project_id, key, k.group_id, mark)
    return added
