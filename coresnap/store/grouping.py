"""Objects with the same fingerprint form a group: counts, states, sampling, merges.

A group row exists per (project, fingerprint). Merging fingerprint A into B points A's row at
B (``merged_into``) and moves A's objects; unmerging points it back. Objects carry the id of
their *effective* group, so queries never chase merges. Every change to a group's counters runs
inside the ingest transaction with the group row locked (``SELECT … FOR UPDATE`` on PostgreSQL;
SQLite's single writer), so concurrent uploads count exactly.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from coresnap.errors import StoreError
from coresnap.store.config import StoreConfig
from coresnap.store.db.models import group_events, groups, objects

STATES = ("open", "resolved", "muted")
# The group_events action of each state a person (or token) sets.
ACTIONS = {"open": "reopen", "resolved": "resolve", "muted": "mute"}
UNFINGERPRINTED = "unfingerprinted"


def fallback_fingerprint(frames: list[str]) -> str:
    """The group key of an object without ``fingerprint.hash``: its top frames' functions."""
    names = [f for f in frames if f]
    if not names:
        return UNFINGERPRINTED
    return hashlib.sha256("\n".join(["frames:v1", *names]).encode()).hexdigest()


def version_key(version: str) -> tuple[tuple[int, Any], ...]:
    """A sort key for versions: "1.10" > "1.9", numbers compare as numbers."""
    return tuple(
        (0, int(p)) if p.isdigit() else (1, p) for p in re.findall(r"\d+|[A-Za-z]+", version)
    )


@dataclass(frozen=True)
class Observation:
    group_id: int  # the effective group the object counts in
    keep_blob: bool
    reopened: bool
    created: bool = False
    row_id: int = 0  # the row of the object's own fingerprint (merged into group_id or not)
    key: str = ""  # the fingerprint naming group_id (another than the object's when merged)


# Built once: building a statement per call costs more than running it on SQLite.
_FIND = select(groups).where(
    groups.c.project_id == bindparam("pid"), groups.c.fingerprint == bindparam("fp")
)
_FIND_LOCKED = _FIND.with_for_update()
_UPDATE = update(groups).where(groups.c.id == bindparam("gid"))


def find(
    conn: Connection, project_id: int, fingerprint: str, lock: bool = False
) -> RowMapping | None:
    """The row of ``fingerprint`` in the project (locked with ``lock``), if any."""
    q = _FIND_LOCKED if lock else _FIND
    return conn.execute(q, {"pid": project_id, "fp": fingerprint}).mappings().first()


def _ensure(
    conn: Connection, project_id: int, fingerprint: str, ts: float, frames: str
) -> tuple[RowMapping, bool, int]:
    """The locked row of the group objects of ``fingerprint`` count in, whether it is new, and
    the id of ``fingerprint``'s own row."""
    row = find(conn, project_id, fingerprint, lock=True)
    created = False
    if row is None:
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        values = dict(
            project_id=project_id,
            fingerprint=fingerprint,
            first_seen=ts,
            last_seen=ts,
            count=0,
            state="open",
            frames=frames,
        )
        ins = dialect.insert(groups).values(**values).on_conflict_do_nothing()
        # No row back: a concurrent transaction inserted it first (rowcount is -1 on psycopg).
        created = conn.execute(ins.returning(groups.c.id)).first() is not None
        row = find(conn, project_id, fingerprint, lock=True)
    assert row is not None  # inserted above or by a concurrent transaction
    if row["merged_into"] is None:
        return row, created, int(row["id"])
    q = select(groups).where(groups.c.id == row["merged_into"]).with_for_update()
    return conn.execute(q).mappings().one(), False, int(row["id"])


def observe(
    conn: Connection,
    project_id: int,
    fingerprint: str,
    timestamp: float,
    version: str | None,
    frames: list[str],
    config: StoreConfig,
) -> Observation:
    """Count one new object in its group (created if new); decide whether to keep its blob."""
    g, created, row_id = _ensure(conn, project_id, fingerprint, timestamp, "\n".join(frames))
    gid = int(g["id"])
    now = time.time()
    changes: dict[str, Any] = {
        "count": g["count"] + 1,
        "first_seen": min(g["first_seen"], timestamp),
        "last_seen": max(g["last_seen"], timestamp),
    }
    reopened = g["state"] == "resolved" and _regressed(g["resolved_version"], version)
    if reopened:
        why = f"regression in {version}" if version else "new occurrence"
        changes.update(state="open", state_by=f"coronerd ({why})", state_at=now)
        record(conn, gid, "reopen", "coronerd", why)
    keep, sampling = _sample(g, now, config)
    changes.update(sampling)
    conn.execute(_UPDATE, {"gid": gid, **changes})
    return Observation(gid, keep, reopened, created, row_id, str(g["fingerprint"]))


def likely_kept(conn: Connection, project_id: int, fingerprint: str, config: StoreConfig) -> bool:
    """Whether :func:`observe` would keep the blob of an object of ``fingerprint`` now.

    Read without a lock, so a guess (concurrent uploads may take the last places): ingest
    writes the blob before its transaction when this says yes, and inside it when it was wrong.
    """
    if config["sampling.first"] < 0:
        return True
    g = find(conn, project_id, fingerprint)
    if g is not None and g["merged_into"] is not None:
        g = conn.execute(select(groups).where(groups.c.id == g["merged_into"])).mappings().first()
    if g is None:  # a new group starts with empty counters
        return (
            config["sampling.first"] > 0
            or min(config["sampling.per_minute"], config["sampling.per_hour"]) > 0
        )
    return _sample(g, time.time(), config)[0]


def _regressed(resolved_version: str | None, version: str | None) -> bool:
    if resolved_version is None or version is None:
        return True
    return version_key(version) > version_key(resolved_version)


def _sample(g: RowMapping, now: float, config: StoreConfig) -> tuple[bool, dict[str, Any]]:
    """Storage sampling: the first N blobs of a period, then at most per_minute and per_hour."""
    first = config["sampling.first"]
    if first < 0:
        return True, {}
    s = {
        k: g[k] for k in ("sample_period", "sample_kept", "sample_minute_kept", "sample_hour_kept")
    }
    minute, hour = int(now // 60), int(now // 3600)
    if now - s["sample_period"] >= config["sampling.period"]:
        s.update(sample_period=now, sample_kept=0, sample_minute_kept=0, sample_hour_kept=0)
    if g["sample_minute"] != minute:
        s["sample_minute_kept"] = 0
    if g["sample_hour"] != hour:
        s["sample_hour_kept"] = 0
    s.update(sample_minute=minute, sample_hour=hour)
    if s["sample_kept"] < first:
        keep = True
    else:
        keep = (
            s["sample_minute_kept"] < config["sampling.per_minute"]
            and s["sample_hour_kept"] < config["sampling.per_hour"]
        )
        if keep:
            s["sample_minute_kept"] += 1
            s["sample_hour_kept"] += 1
    if keep:
        s["sample_kept"] += 1
    return keep, s


def group_row(conn: Connection, project_id: int, fingerprint: str) -> RowMapping:
    """The group of ``fingerprint``; raises StoreError(404) when there is none."""
    row = find(conn, project_id, fingerprint)
    if row is None:
        err = StoreError(f"no group {fingerprint!r}", fingerprint=fingerprint)
        err.status, err.code = 404, "group-not-found"
        raise err
    return row


def set_state(
    conn: Connection, project_id: int, fingerprint: str, state: str, who: str, version: str | None
) -> None:
    """Set a group's state (open, resolved, muted), recording who and when.

    Resolving records ``version`` (default: the newest version seen in the group) so that only
    a newer version reopens it. Raises StoreError for an unknown state or group.
    """
    if state not in STATES:
        raise StoreError(f"state must be one of {', '.join(STATES)}", state=state)
    g = group_row(conn, project_id, fingerprint)
    gid = int(g["merged_into"] or g["id"])
    if state == "resolved" and version is None:
        q = select(objects.c.version).where(objects.c.group_id == gid).distinct()
        seen = [v for v in conn.execute(q).scalars() if v]
        version = max(seen, key=version_key) if seen else None
    values = dict(state=state, state_by=who, state_at=time.time())
    values["resolved_version"] = version if state == "resolved" else None
    conn.execute(update(groups).where(groups.c.id == gid).values(**values))
    detail = f"version {version}" if state == "resolved" and version else None
    record(conn, gid, ACTIONS[state], who, detail)


def record(
    conn: Connection, group_id: int, action: str, who: str | None, detail: str | None = None
) -> None:
    """Add a row to the group's history (group_events): who did ``action`` and when."""
    conn.execute(
        insert(group_events).values(
            group_id=group_id, at=time.time(), by=who, action=action, detail=detail
        )
    )


def _recount(conn: Connection, gid: int) -> None:
    q = select(func.count(), func.min(objects.c.timestamp), func.max(objects.c.timestamp))
    n, first, last = conn.execute(q.where(objects.c.group_id == gid)).one()
    values: dict[str, Any] = {"count": n}
    if n:
        values.update(first_seen=first, last_seen=last)
    conn.execute(update(groups).where(groups.c.id == gid).values(**values))


def merge(
    conn: Connection, project_id: int, source: str, target: str, who: str | None = None
) -> None:
    """Merge fingerprint ``source``'s group into ``target``'s; raises StoreError if unknown."""
    src, dst = group_row(conn, project_id, source), group_row(conn, project_id, target)
    dst_id = int(dst["merged_into"] or dst["id"])
    src_id = int(src["merged_into"] or src["id"])
    if src_id == dst_id:
        return
    conn.execute(
        update(groups)
        .where((groups.c.id == src["id"]) | (groups.c.merged_into == src_id))
        .values(merged_into=dst_id)
    )
    conn.execute(update(objects).where(objects.c.group_id == src_id).values(group_id=dst_id))
    _recount(conn, dst_id)
    record(conn, dst_id, "merge", who, f"{source} merged in")
    record(conn, src_id, "merge", who, f"merged into {target}")


def unmerge(conn: Connection, project_id: int, fingerprint: str, who: str | None = None) -> None:
    """Give ``fingerprint`` its own group again, with its own objects."""
    g = group_row(conn, project_id, fingerprint)
    if g["merged_into"] is None:
        return
    # pinned: a person said this key is its own group, so aliases must not merge it back.
    conn.execute(update(groups).where(groups.c.id == g["id"]).values(merged_into=None, pinned=True))
    conn.execute(
        update(objects)
        .where(objects.c.project_id == project_id, objects.c.fingerprint == fingerprint)
        .values(group_id=g["id"])
    )
    _recount(conn, int(g["id"]))
    _recount(conn, int(g["merged_into"]))
    record(conn, int(g["id"]), "unmerge", who, "its own group again")
    record(conn, int(g["merged_into"]), "unmerge", who, f"{fingerprint} split off")
