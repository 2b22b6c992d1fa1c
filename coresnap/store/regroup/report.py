"""The plan as people read it: which groups split, which merge, which only change key.

Keys are shown by their first :data:`SHORT` hex digits (as git shows commits); ``--json``
prints them whole.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from coresnap.store.regroup.plan import Part, Plan

SHORT = 16


def _k(key: str) -> str:
    return key[:SHORT]


def lines(plan: Plan) -> list[str]:
    """The plan of one project: each group whose objects move (split when they go to several
    groups or it keeps some), each group that gathers others (merge), then the totals."""
    r = plan.reading
    followers = sum(1 for s in r.objects if not s.blob_key)
    unreadable = f", {r.unreadable} unreadable" if r.unreadable else ""
    out = [
        f"project {plan.project}: fingerprint v{plan.version}, {len(r.objects)} objects "
        f"({followers} without a snapshot follow their group{unreadable})"
    ]
    sources, targets = _index(plan)
    keys = {gid: g["fingerprint"] for gid, g in r.groups.items()}
    for gid, parts in sorted(sources.items()):
        head = f"  {_k(keys[gid])} ({_count(plan, gid)} objects)"
        if _splits(plan, parts):
            out.append(f"{head} splits:")
            out += [f"      {_arrow(plan, p)}" for p in parts]
        else:
            out.append(f"{head} {_arrow(plan, parts[0])}")
    for target, parts in sorted(targets.items()):
        gathered = _gathered(plan, target, parts)
        if len(gathered) > 1:
            names = ", ".join(_k(keys[g]) if g in keys else "?" for g in gathered)
            out.append(f"  merge into {_k(target)}: {names}")
    out.append("  " + totals(plan))
    return out


def totals(plan: Plan) -> str:
    """One line: how many objects move, how many groups split, how many gather others."""
    sources, targets = _index(plan)
    splits = sum(1 for parts in sources.values() if _splits(plan, parts))
    merges = sum(1 for t, parts in targets.items() if len(_gathered(plan, t, parts)) > 1)
    if not plan.parts and not plan.refresh:
        return "nothing to do: every object is in the group of its key"
    return (
        f"{plan.moving()} objects move, {splits} groups split, {merges} merges, "
        f"{len(plan.refresh)} objects refreshed in place"
    )


def _splits(plan: Plan, parts: list[Part]) -> bool:
    """Whether a source's objects end in more than one group."""
    finals = {plan.finals[p.target].row_id or p.target for p in parts}
    keeps = not any(p.heir for p in parts)  # it stays, with objects that do not move
    moving_out = any(plan.finals[p.target].row_id != p.source for p in parts)
    return len(finals) > 1 or (keeps and moving_out)


def _gathered(plan: Plan, target: str, parts: list[Part]) -> list[int]:
    """The current groups whose objects end in ``target``'s group (itself included)."""
    row = plan.finals[target].row_id
    found = {p.source for p in parts} | ({row} if row is not None else set())
    return sorted(found)


def as_json(plan: Plan) -> dict[str, Any]:
    """The plan as data (``coronerd regroup --json``): every part with whole keys."""
    keys = {gid: g["fingerprint"] for gid, g in plan.reading.groups.items()}
    return {
        "project": plan.project,
        "version": plan.version,
        "objects": len(plan.reading.objects),
        "unreadable": plan.reading.unreadable,
        "parts": [
            {
                "from": keys[p.source],
                "to": p.target,
                "group": _group_of(plan, p),
                "objects": len(p.objects),
                "reason": p.reason,
                "heir": p.heir,
            }
            for p in plan.parts
        ],
        "refreshed": len(plan.refresh),
        "summary": totals(plan),
    }


def _index(plan: Plan) -> tuple[dict[int, list[Part]], dict[str, list[Part]]]:
    sources: dict[int, list[Part]] = defaultdict(list)
    targets: dict[str, list[Part]] = defaultdict(list)
    for p in plan.parts:
        sources[p.source].append(p)
        targets[p.target].append(p)
    return sources, targets


def _count(plan: Plan, gid: int) -> int:
    return Counter(s.group_id for s in plan.reading.objects)[gid]


def _group_of(plan: Plan, part: Part) -> str:
    final = plan.finals[part.target]
    if final.row_id is None:
        return "new"
    return "own" if final.row_id == part.source else "existing"


def _arrow(plan: Plan, part: Part) -> str:
    label = {"new": "new group", "own": "same group", "existing": "existing group"}
    heir = ", takes over the group" if part.heir else ""
    return (
        f"{len(part.objects)} → {_k(part.target)} ({label[_group_of(plan, part)]}{heir}): "
        f"{part.reason}"
    )
