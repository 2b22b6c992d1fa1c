"""What a group hands on when its objects go to another group: state, JIRA keys, history.

Used when groups merge through an alias (ingest) and when ``coronerd regroup`` moves objects.
The rules, in docs/store.md ("What regrouping keeps"):

- **state**: the receiving group takes the giver's state (open / resolved + resolved version /
  muted, with who and when) when the giver's is the later decision; a group nobody decided about
  (``state_at`` empty) never overrides one somebody did. A new group split off an old one so takes
  the old one's state.
- **JIRA keys**: the receiver gets each ticket it has none of for that alert target (a split's
  every part keeps following the old group's ticket); when both have one for a target the
  receiver keeps its own and the event names the other.
- **history**: a group that is emptied into another hands its events over (the console shows a
  merged group's page as its target's), and both sides get an event naming the reason.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, RowMapping, func, select, update

from coresnap.store import grouping
from coresnap.store.db.models import group_events, group_tickets, groups, objects

_STATE = ("state", "state_by", "state_at", "resolved_version")


def lock(conn: Connection, *group_ids: int) -> dict[int, RowMapping]:
    """The rows of ``group_ids``, locked in id order (so two writers never wait on each other
    in a cycle: ingest and regroup lock groups the same way)."""
    q = select(groups).where(groups.c.id.in_(sorted(set(group_ids)))).order_by(groups.c.id)
    return {int(r["id"]): r for r in conn.execute(q.with_for_update()).mappings()}


def inherit_state(conn: Connection, giver: RowMapping, receiver: RowMapping) -> bool:
    """Give ``receiver`` the giver's state if that is the later decision; returns whether."""
    if giver["state_at"] is None:
        return False
    if receiver["state_at"] is not None and receiver["state_at"] >= giver["state_at"]:
        return False
    if all(giver[k] == receiver[k] for k in _STATE):
        return False
    values = {k: giver[k] for k in _STATE}
    conn.execute(update(groups).where(groups.c.id == receiver["id"]).values(**values))
    return True


def copy_tickets(conn: Connection, giver_id: int, receiver_id: int) -> list[str]:
    """Copy the giver's JIRA tickets the receiver has no ticket of that target for; returns
    the keys that stayed behind (the receiver already follows another for that target)."""
    theirs = conn.execute(select(group_tickets).where(group_tickets.c.group_id == giver_id))
    mine = {
        r.target_id: r.key
        for r in conn.execute(select(group_tickets).where(group_tickets.c.group_id == receiver_id))
    }
    left = []
    for t in theirs.mappings().all():
        if t["target_id"] in mine:
            if mine[t["target_id"]] != t["key"]:
                left.append(str(t["key"]))
            continue
        conn.execute(group_tickets.insert().values({**dict(t), "group_id": receiver_id}))
    return left


def move_history(conn: Connection, giver_id: int, receiver_id: int) -> None:
    """Hand the giver's events to the receiver (the giver is now a merged shell)."""
    conn.execute(
        update(group_events).where(group_events.c.group_id == giver_id).values(group_id=receiver_id)
    )


def settle(
    conn: Connection, group_id: int, delta: int = 0, seen: tuple[float, float] | None = None
) -> None:
    """Correct a group's count by ``delta`` (its row is locked) and its first/last seen: from
    ``seen`` (objects added) or, when objects left, from what remains (the index answers)."""
    g = conn.execute(select(groups).where(groups.c.id == group_id)).mappings().one()
    values: dict[str, Any] = {"count": g["count"] + delta}
    if seen is not None:
        values.update(
            first_seen=min(g["first_seen"], seen[0]), last_seen=max(g["last_seen"], seen[1])
        )
    elif delta < 0:
        q = select(func.min(objects.c.timestamp), func.max(objects.c.timestamp))
        first, last = conn.execute(q.where(objects.c.group_id == group_id)).one()
        if first is not None:
            values.update(first_seen=first, last_seen=last)
    conn.execute(update(groups).where(groups.c.id == group_id).values(**values))


def absorb(conn: Connection, giver_id: int, receiver_id: int, who: str, reason: str) -> None:
    """Merge group ``giver_id`` whole into ``receiver_id`` (both effective groups): its rows
    follow the receiver, its objects move, and it hands on state, tickets and history."""
    rows = lock(conn, giver_id, receiver_id)
    giver, receiver = rows[giver_id], rows[receiver_id]
    conn.execute(
        update(groups)
        .where((groups.c.id == giver_id) | (groups.c.merged_into == giver_id))
        .values(merged_into=receiver_id)
    )
    moved = conn.execute(
        update(objects).where(objects.c.group_id == giver_id).values(group_id=receiver_id)
    ).rowcount
    settle(conn, receiver_id, moved, (giver["first_seen"], giver["last_seen"]) if moved else None)
    conn.execute(update(groups).where(groups.c.id == giver_id).values(count=0))
    inherit_state(conn, giver, receiver)
    left = copy_tickets(conn, giver_id, receiver_id)
    move_history(conn, giver_id, receiver_id)
    detail = f"{giver['fingerprint']} merged in ({reason}): {moved} objects"
    if left:
        detail += f"; its tickets {', '.join(left)} stay on it"
    grouping.record(conn, receiver_id, "merge", who, detail)
