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
    followers = sum(1 for s in r.objects if s.id not in r.computed)
    unreadable = f", {r.unreadable} unreadable" if r.unreadable else ""
    out = [
        f"project {plan.project}: fingerprint v{plan.version}, {_objects(len(r.objects))}: "
        f"{len(r.computed) - r.kept_keys} keyed from their snapshot, {r.kept_keys} keep the key "
        f"v{plan.version} gave them, {followers} follow their group{unreadable}"
    ]
    sources, targets = _index(plan)
    keys = {gid: g["fingerprint"] for gid, g in r.groups.items()}
    counts = Counter(s.group_id for s in r.objects)
    for gid, parts in sorted(sources.items()):
        head = f"  {_k(keys[gid])} ({_objects(counts[gid])})"
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
        f"{_objects(plan.moving())} move, {splits} split, {merges} merge, "
        f"{_objects(len(plan.refresh))} refreshed in place"
    )


def _splits(plan: Plan, parts: list[Part]) -> bool:
    """Whether a source's objects end in more than one group."""
    finals = {plan.finals[p.target].row_id or p.target for p in parts}
    keeps = not any(p.heir for p in parts)  # it stays, with objects that do not move
    moving_out = any(plan.finals[p.target].row_id != p.source for p in parts)
    return len(finals) > 1 or (keeps and moving_out)


def _gathered(plan: Plan, target: str, parts: list[Part]) -> list[int]:
    """The current groups whose objects end in ``target``'s group (itself, if it has any)."""
    row = plan.finals[target].row_id
    found = {p.source for p in parts}
    if row is not None and row in plan.reading.groups and plan.reading.groups[row]["count"]:
        found.add(row)
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


def _objects(n: int) -> str:
    return f"{n} object{'' if n == 1 else 's'}"


def _group_of(plan: Plan, part: Part) -> str:
    final = plan.finals[part.target]
    if final.row_id is None:
        return "new"
    if final.unmerge:
        return "again"
    return "same" if final.row_id == part.source else "existing"


def _arrow(plan: Plan, part: Part) -> str:
    label = {
        "new": "new group",
        "again": "its own group again",
        "same": "same group",
        "existing": "existing group",
    }
    heir = ", heir" if part.heir else ""
    return (
        f"{_objects(len(part.objects))} → {_k(part.target)} ({label[_group_of(plan, part)]}{heir}): "
        f"{part.reason}"
    )
