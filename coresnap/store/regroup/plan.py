"""Regroup, step 2: from every object's key today to the moves that make the groups match.

1. Keys that share an alias (and are blamed on the same function, or one has no name) are one
   group, and so are keys without a line and the one key with a line of their function key
   (``aliases.py``): the key with the most objects *represents* it (ties: the key of the oldest group,
   then the smallest key); the others' objects move there with the reason ``alias <key>``.
2. Each represented key has a *final* group: its row's group when that group stays, else its
   row itself (un-merged when it was merged into a group that empties), else a new row.
3. Each current group whose objects have keys now is a *source*. It *stays* when its own key is
   still represented (or none of its objects has a snapshot); otherwise it *empties*: its
   *heir* is the final group that gets most of its objects (ties: the smallest key); its objects
   without a snapshot follow the heir, and its row (and the rows merged into it) become merged
   into the heir, which takes its state, tickets and history (``heritage.py``).
4. A source's objects bound for one final group form a *part*; a source that empties moves its
   other parts first and its heir's part last, objects without a snapshot first in it, so that a
   run killed at any point and started again finds the same heir.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from coresnap.store import aliases
from coresnap.store.aliases import lined
from coresnap.store.regroup.read import Reading, Stored


@dataclass(frozen=True)
class Move:
    """What one object becomes: its key, the version that made it, what symbols filled."""

    fingerprint: str
    fp_version: int | None
    learned: str | None


@dataclass
class Final:
    """A group objects end in: an existing row (``row_id``) or a new one for ``key``."""

    key: str
    row_id: int | None
    unmerge: bool = False
    frames: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    blamed: str | None = None
    weak: list[str] = field(default_factory=list)  # function keys (aliases.py)
    site: str | None = None  # a site with a line of its objects, else any
    joined: dict[str, str] = field(default_factory=dict)  # other keys -> the alias linking them
    first_seen: float = 0.0
    last_seen: float = 0.0


@dataclass
class Part:
    source: int  # the current (effective) group
    target: str  # the represented key of the final group
    objects: list[int]
    reason: str
    heir: bool = False  # the source empties into the target with this part


@dataclass
class Plan:
    project_id: int
    project: str
    version: int
    reading: Reading
    moves: dict[int, Move] = field(default_factory=dict)
    parts: list[Part] = field(default_factory=list)
    finals: dict[str, Final] = field(default_factory=dict)
    refresh: list[int] = field(default_factory=list)  # same key and group, new version/fills

    def moving(self) -> int:
        return sum(len(p.objects) for p in self.parts)


class _Union:
    """Union-find over keys, remembering an alias that linked each key to its set."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.via: dict[str, str] = {}

    def find(self, key: str) -> str:
        while self.parent.get(key, key) != key:
            key = self.parent[key]
        return key

    def join(self, a: str, b: str, alias: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)
            self.via.setdefault(a, alias)
            self.via.setdefault(b, alias)


def build(project_id: int, project: str, version: int, reading: Reading) -> Plan:
    """The plan for one project (steps 1-4 of the module doc); reads nothing. ``version`` is
    the fingerprint version the plan groups by (shown with it)."""
    plan = Plan(project_id, project, version, reading)
    computed = reading.computed
    by_key: dict[str, list[Stored]] = defaultdict(list)
    by_source: dict[int, list[Stored]] = defaultdict(list)
    for s in reading.objects:
        by_source[s.group_id].append(s)
        if s.id in computed:
            by_key[computed[s.id].print.hash].append(s)
    rows = {g["fingerprint"]: g for g in reading.groups.values()}
    rep, links = _represent(plan, by_key, rows)
    represented = set(rep.values())
    stays = {
        gid: reading.groups[gid]["fingerprint"] in represented
        or not any(s.id in computed for s in members)
        for gid, members in by_source.items()
    }
    for key in sorted(represented):
        plan.finals[key] = _final(plan, key, by_key[key], rows.get(key), stays)
        plan.finals[key].joined = links.get(key, {})
    for gid in sorted(by_source):
        _source(plan, gid, by_source[gid], rep, stays[gid])
    return plan


def _represent(
    plan: Plan, by_key: dict[str, list[Stored]], rows: dict[str, Any]
) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """Step 1: each computed key -> the key that represents its alias set; and per
    representing key, the other keys of its set -> the alias that linked them."""
    union = _Union()
    owners: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    pinned = {k for k, g in rows.items() if g["pinned"]}
    for key, members in by_key.items():
        prints = [plan.reading.computed[s.id].print for s in members]
        blamed = next((p.blamed for p in prints if p.blamed), None)
        for alias in sorted({a for p in prints for a in p.aliases}):
            owners[alias].append((key, blamed))
    for alias, keys in sorted(owners.items()):
        for (a, blamed_a), (b, blamed_b) in zip(keys, keys[1:], strict=False):
            same = blamed_a is None or blamed_b is None or blamed_a == blamed_b
            if same and a not in pinned and b not in pinned:
                union.join(a, b, alias)
    _weak_unions(plan, by_key, union, pinned)
    sets: dict[str, list[str]] = defaultdict(list)
    for key in by_key:
        sets[union.find(key)].append(key)

    def rank(k: str) -> tuple[int, int, str]:
        row = rows.get(k)
        return (-len(by_key[k]), int(row["id"]) if row else 1 << 62, k)

    rep: dict[str, str] = {}
    links: dict[str, dict[str, str]] = {}
    for keys_of_set in sets.values():
        best = min(keys_of_set, key=rank)
        rep.update({k: best for k in keys_of_set})
        links[best] = {k: union.via.get(k, "?") for k in keys_of_set if k != best}
    return rep, links


def _weak_unions(
    plan: Plan, by_key: dict[str, list[Stored]], union: _Union, pinned: set[str]
) -> None:
    """Step 1 for function keys: ingest's rules (``aliases.fold_mark``, ``aliases.weak_joins``)
    applied to all crashes at once: each key's mark folds every site that brought it, then the
    keys without a line join the (first) group with a line of a key they may join."""
    owners: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    for key, members in by_key.items():
        prints = [plan.reading.computed[s.id].print for s in members]
        site = next((p.site for p in prints if p.site), None)
        for weak in sorted({w for p in prints for w in p.weak}):
            owners[weak].append((key, site))
    for weak, keys in sorted(owners.items()):
        mark: str | None = None
        for _, site in keys:
            mark = aliases.fold_mark(mark, site)
        targets = [k for k, site in keys if lined(site)]
        for key, site in keys:
            if not aliases.weak_joins(mark, site) or lined(site) or not targets:
                continue
            if key not in pinned and min(targets) not in pinned:
                union.join(key, min(targets), f"weak {weak}")


def _final(plan: Plan, key: str, members: list[Stored], row: Any, stays: dict[int, bool]) -> Final:
    """Step 2 for represented ``key``."""
    prints = [plan.reading.computed[s.id].print for s in members]
    final = Final(key, None, frames=next((p.frames for p in prints if p.frames), []))
    final.aliases = sorted({a for p in prints for a in p.aliases})
    final.blamed = next((p.blamed for p in prints if p.blamed), None)
    final.weak = sorted({w for p in prints for w in p.weak})
    final.site = next((p.site for p in prints if lined(p.site)), None) or next(
        (p.site for p in prints if p.site), None
    )
    final.first_seen = min(s.timestamp for s in members)
    final.last_seen = max(s.timestamp for s in members)
    if row is not None:
        eff = int(row["merged_into"] or row["id"])
        if stays.get(eff, True):
            final.row_id = eff
        else:
            final.row_id, final.unmerge = int(row["id"]), True
    return final


def _source(plan: Plan, gid: int, members: list[Stored], rep: dict[str, str], stays: bool) -> None:
    """Steps 3 and 4 for the current group ``gid``."""
    computed = plan.reading.computed
    bound: dict[str, list[Stored]] = defaultdict(list)
    for s in members:
        if s.id in computed:
            bound[rep[computed[s.id].print.hash]].append(s)
    if not bound:
        return
    heir = min(bound, key=lambda k: (-len(bound[k]), k))
    order = sorted(bound, key=lambda k: (k == heir, k))
    for target in order:
        final = plan.finals[target]
        into_self = final.row_id == gid
        moving = [s for s in bound[target] if _changes(plan, s, rep, into_self)]
        is_heir = target == heir and not stays
        if is_heir:
            followers = [s for s in members if s.id not in computed]
            moving = followers + moving
            for s in followers:
                plan.moves[s.id] = Move(s.fingerprint, s.fp_version, s.learned)
        if moving:
            reason = _reason(plan, bound[target], rep)
            plan.parts.append(Part(gid, target, [s.id for s in moving], reason, is_heir))
        for s in bound[target]:
            if not into_self or s.id in plan.moves:
                continue
            if _refreshes(plan, s):
                plan.refresh.append(s.id)


def _changes(plan: Plan, s: Stored, rep: dict[str, str], into_self: bool) -> bool:
    """Whether object ``s`` moves (another group, or another key); records its move."""
    c = plan.reading.computed[s.id]
    learned = json.dumps(c.print.learned) if c.print.learned else None
    if into_self and c.print.hash == s.fingerprint:
        return False
    plan.moves[s.id] = Move(c.print.hash, c.print.version, learned)
    return True


def _refreshes(plan: Plan, s: Stored) -> bool:
    c = plan.reading.computed[s.id]
    learned = json.dumps(c.print.learned) if c.print.learned else None
    if (c.print.version, learned) == (s.fp_version, s.learned):
        return False
    plan.moves[s.id] = Move(c.print.hash, c.print.version, learned)
    return True


def _reason(plan: Plan, stored: list[Stored], rep: dict[str, str]) -> str:
    """The most common reason among a part's objects."""
    reasons: Counter[str] = Counter()
    for s in stored:
        c = plan.reading.computed[s.id]
        key = c.print.hash
        if rep[key] != key:
            reasons[f"alias {plan.finals[rep[key]].joined.get(key, '?')}"] += 1
        elif c.print.hash != s.fingerprint:
            reasons[c.reason] += 1
    return reasons.most_common(1)[0][0] if reasons else "group emptied into its heir"
