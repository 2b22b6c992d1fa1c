"""What the grouping corpus measures, for the bench and the test: groupings side by side (the
current fingerprint, an ABRT-style baseline, coronerd's groups), class and blame accuracy, and
the misses behind each figure.

The fingerprint is recomputed from each stored snapshot by this checkout's code
(``coresnap.analysis.fingerprint.fingerprint``, without the core, as ``coronerd regroup`` would)
and also read as the snapshot builder wrote it with the core open (what coronerd groups by).
Snapshots are made by this checkout's code too (their cache is keyed by it), so both follow it.
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coresnap.snapshot import load
from coresnap.store import debugfiles, debugsyms, symbols
from tests.grouping.corpus import Crashed
from tests.grouping.product import store_groups
from tests.grouping.score import (
    Accuracy,
    Pairwise,
    accuracy,
    baseline_hash,
    blame_matches,
    confusion,
    pairwise,
    render_confusion,
)

# The module, not the function coresnap.analysis exports under the same name.
fp = importlib.import_module("coresnap.analysis.fingerprint")


# Each grouping's key and what the report calls it ({v}: the fingerprint's version).
NAMES = {
    "recomputed": "fingerprint v{v}, recomputed",
    "made": "fingerprint v{v}, made with the core",
    "baseline": "ABRT-style top-3 baseline",
    "coronerd": "coronerd groups (put, then API)",
}


@dataclass(frozen=True)
class Measured:
    """The corpus's figures: each grouping's case -> group and its Pairwise (keys of NAMES, in
    print order), class accuracy and confusion, blame accuracy."""

    cases: int
    bugs: int
    version: str
    languages: Counter[str]
    assigned: dict[str, dict[str, str]]
    groupings: dict[str, Pairwise]
    classes: Accuracy
    confusion: Counter[tuple[str, str]]
    blame: Accuracy | None  # None: the fingerprint names no blamed function yet
    # The blame once the store has the debug files of stripped builds (coroner symbols upload):
    # the stripped cases' frames filled from their twin as coronerd fills them, the rest as is.
    blame_store: Accuracy | None = None

    def partition(self, grouping: str) -> set[frozenset[str]]:
        """The cases of each group of ``grouping``, whatever the groups are called."""
        groups: dict[str, set[str]] = {}
        for case, group in self.assigned[grouping].items():
            groups.setdefault(group, set()).add(case)
        return {frozenset(cases) for cases in groups.values()}


def _crashed_frames(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    for thread in snapshot.get("threads", []):
        if thread.get("crashed") or thread.get("tid") == snapshot.get("crashed_thread"):
            return list(thread.get("frames", []))
    return []


def _normalizer() -> Callable[[str], str]:
    """fingerprint.normalize_function as name -> name (v1 returns (name, changes))."""
    normalize = getattr(fp, "normalize_function", None)
    if normalize is None:
        return lambda name: name

    def one(name: str) -> str:
        result = normalize(name)
        return str(result[0] if isinstance(result, tuple) else result)

    return one


def measure(
    crashed: Sequence[Crashed], store_dir: Path | None, languages: dict[str, str]
) -> Measured:
    """Score ``crashed`` (``languages``: program -> language); with ``store_dir``, also the
    groups of a fresh coronerd there (raises what product.store_groups raises)."""
    snaps = {c.case.id: load(c.snapshot) for c in crashed}
    bug = {c.case.id: c.case.bug for c in crashed}
    version = next((str(fp.fingerprint(s).get("version")) for s in snaps.values()), "?")
    assigned = {
        "recomputed": {c: str(fp.fingerprint(s)["hash"]) for c, s in snaps.items()},
        "made": {c: str((s.get("fingerprint") or {}).get("hash")) for c, s in snaps.items()},
        "baseline": {c: baseline_hash(_crashed_frames(s)) for c, s in snaps.items()},
    }
    if store_dir is not None:
        # A stripped case's symbol twin is another file than the one that ran (an unstripped
        # case's is the same file, copied to run): the twins are the debug files to upload.
        stripped = [c.symbols for c in crashed if c.symbols.stat().st_size != c.exe.stat().st_size]
        snaps_of = {c.case.id: c.snapshot for c in crashed}
        assigned["coronerd"] = store_groups(snaps_of, store_dir, stripped)
    expected_class = {c.case.id: c.case.cls for c in crashed}
    found_class = {
        c: ((s.get("classification") or {}).get("labels") or [None])[0] for c, s in snaps.items()
    }
    return Measured(
        cases=len(crashed),
        bugs=len(set(bug.values())),
        version=version,
        languages=Counter(languages[c.case.program] for c in crashed),
        assigned=assigned,
        groupings={name: pairwise(bug, groups) for name, groups in assigned.items()},
        classes=accuracy(expected_class, found_class),
        confusion=confusion(expected_class, found_class),
        blame=_blame_accuracy(crashed, snaps),
        blame_store=_blame_accuracy(crashed, {**snaps, **_symbolised(crashed, snaps)}),
    )


def _symbolised(
    crashed: Sequence[Crashed], snaps: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The stripped cases' snapshots with their fingerprint recomputed after filling their
    nameless frames from the unstripped twin (the debug file), with coronerd's own code."""
    out = {}
    for c in crashed:
        if c.symbols.stat().st_size == c.exe.stat().st_size:
            continue  # not stripped: its own file is its debug file
        doc = snaps[c.case.id]
        build = debugfiles.build_id_of(c.symbols.read_bytes())
        offsets = debugsyms.wanted(doc, symbols.Symbols()).get(build, {})
        chains = debugsyms.resolve(str(c.symbols), offsets) if offsets else {}
        known = symbols.Symbols(pcs={(build, o): chains.get(o, []) for o in offsets})
        filled, _ = symbols.fill(doc, known)
        out[c.case.id] = {**filled, "fingerprint": fp.fingerprint(filled)}
    return out


def _blame_accuracy(
    crashed: Sequence[Crashed], snaps: dict[str, dict[str, Any]]
) -> Accuracy | None:
    found: dict[str, str | None] = {}
    for c in crashed:
        blame = (snaps[c.case.id].get("fingerprint") or {}).get("blame")
        found[c.case.id] = blame.get("function") if isinstance(blame, dict) else None
    if not any(found.values()):
        return None
    normalize = _normalizer()
    expected = {c.case.id: c.case.blame for c in crashed}
    right = {c: e for c, e in expected.items() if blame_matches(e, found[c], normalize)}
    misses = [(c, e, found[c]) for c, e in sorted(expected.items()) if c not in right]
    return Accuracy(len(right), len(expected), misses)


def _misses(name: str, p: Pairwise) -> list[str]:
    lines = []
    for bug, groups in p.split.items():
        parts = " | ".join(", ".join(cases) for cases in groups.values())
        lines.append(f"   {name}: {bug} split in {len(groups)} groups: {parts}")
    for group, bugs in p.merged.items():
        parts = "; ".join(f"{b} ({', '.join(cases)})" for b, cases in bugs.items())
        lines.append(f"   {name}: group {group[:12]} merges {len(bugs)} bugs: {parts}")
    return lines


def report(m: Measured) -> str:
    """The figures as the bench prints them: groupings side by side, then classes, blames and
    every miss (bug ids and case ids)."""
    langs = ", ".join(f"{lang} {n}" for lang, n in sorted(m.languages.items()))
    out = [f"   {m.cases} crashes of {m.bugs} bugs ({langs})", ""]
    out.append(f"   {'grouping':<38} {'precision':>9} {'recall':>7} {'F1':>6} {'groups/bugs':>12}")
    for key, p in m.groupings.items():
        ratio, name = f"{p.groups}/{p.bugs}", NAMES[key].format(v=m.version)
        out.append(f"   {name:<38} {p.precision:9.3f} {p.recall:7.3f} {p.f1:6.3f} {ratio:>12}")
    out += ["", f"   class accuracy {m.classes.ratio:.3f} ({m.classes.correct}/{m.classes.total})"]
    out.append(render_confusion(m.confusion))
    if m.blame is None:
        out.append("   blame accuracy n/a (the fingerprint names no blamed function)")
    else:
        out.append(f"   blame accuracy {m.blame.ratio:.3f} ({m.blame.correct}/{m.blame.total})")
    if m.blame_store is not None:
        b = m.blame_store
        out.append(
            f"   blame accuracy with the store's debug files {b.ratio:.3f} ({b.correct}/{b.total})"
        )
    out += ["", "   misses:"]
    for key, p in m.groupings.items():
        out += _misses(NAMES[key].format(v=m.version), p)
    out += [f"   class: {c}: {e} -> {f}" for c, e, f in m.classes.misses]
    out += [f"   blame: {c}: {e} -> {f}" for c, e, f in (m.blame.misses if m.blame else [])]
    misses = m.blame_store.misses if m.blame_store else []
    out += [f"   blame with debug files: {c}: {e} -> {f}" for c, e, f in misses]
    return "\n".join(out)
