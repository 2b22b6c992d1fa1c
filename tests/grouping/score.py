"""Scoring a grouping against the corpus's truth: pure functions over plain mappings.

Pairwise scores count, over every pair of crash cases, whether the two are the same bug (truth)
and whether they share a group (prediction): precision is the share of same-group pairs that
are the same bug, recall the share of same-bug pairs that share a group. Both come from the
bug x group contingency table, so no pair is enumerated. Accuracy compares one expected label
per case with the one found; the confusion table counts (expected, found) pairs.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


@dataclass(frozen=True)
class Pairwise:
    """Pairwise precision/recall/F1 of a grouping, and where it went wrong."""

    precision: float
    recall: float
    f1: float
    groups: int
    bugs: int
    split: dict[str, dict[str, list[str]]]  # bug -> group -> its cases (bugs in 2+ groups)
    merged: dict[str, dict[str, list[str]]]  # group -> bug -> its cases (groups of 2+ bugs)


def pairwise(bug: Mapping[str, str], group: Mapping[str, str]) -> Pairwise:
    """Score ``group`` (case -> group key) against ``bug`` (case -> bug id).

    Raises KeyError if a case of ``bug`` has no group. With no pair on a side (every case
    alone), the ratio over it is 1.0: nothing was claimed, so nothing was wrong.
    """
    cells: dict[tuple[str, str], list[str]] = defaultdict(list)
    for case, b in bug.items():
        cells[(b, group[case])].append(case)
    by_bug: dict[str, dict[str, list[str]]] = defaultdict(dict)
    by_group: dict[str, dict[str, list[str]]] = defaultdict(dict)
    for (b, g), cases in cells.items():
        by_bug[b][g] = sorted(cases)
        by_group[g][b] = sorted(cases)
    both = sum(_pairs(len(cases)) for cases in cells.values())
    same_group = sum(_pairs(sum(map(len, bugs.values()))) for bugs in by_group.values())
    same_bug = sum(_pairs(sum(map(len, groups.values()))) for groups in by_bug.values())
    precision = both / same_group if same_group else 1.0
    recall = both / same_bug if same_bug else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Pairwise(
        precision,
        recall,
        f1,
        groups=len(by_group),
        bugs=len(by_bug),
        split={b: gs for b, gs in sorted(by_bug.items()) if len(gs) > 1},
        merged={g: bs for g, bs in sorted(by_group.items()) if len(bs) > 1},
    )


@dataclass(frozen=True)
class Accuracy:
    """Share of cases whose found label is the expected one; ``misses``: (case, expected, found)."""

    correct: int
    total: int
    misses: list[tuple[str, str, str | None]] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.correct / self.total if self.total else 1.0


def accuracy(expected: Mapping[str, str], found: Mapping[str, str | None]) -> Accuracy:
    """Compare ``found`` (case -> label, None: no label) with ``expected`` for every case."""
    misses = [(c, e, found.get(c)) for c, e in sorted(expected.items()) if found.get(c) != e]
    return Accuracy(len(expected) - len(misses), len(expected), misses)


def confusion(
    expected: Mapping[str, str], found: Mapping[str, str | None]
) -> Counter[tuple[str, str]]:
    """Counts of (expected, found) over the cases; a missing label is found as "(none)"."""
    return Counter((e, found.get(c) or "(none)") for c, e in expected.items())


def render_confusion(table: Counter[tuple[str, str]], indent: str = "   ") -> str:
    """The confusion table as text: one row per expected label, its found labels beside it."""
    rows: dict[str, Counter[str]] = defaultdict(Counter)
    for (e, f), n in table.items():
        rows[e][f] += n
    width = max((len(e) for e in rows), default=0)
    lines = []
    for e in sorted(rows):
        total = sum(rows[e].values())
        found = ", ".join(f"{f} {n}" for f, n in rows[e].most_common())
        mark = " " if rows[e][e] == total else "*"
        lines.append(f"{indent}{mark} {e:<{width}}  {rows[e][e]}/{total}  -> {found}")
    return "\n".join(lines)


# The ABRT-style baseline: what a crash reporter without our analysis does. Frames of the C and
# C++ runtime libraries, the dynamic loader and the signal/abort path are dropped; names lose
# their parameters, clone suffixes and Rust hashes; the top three that remain are hashed.
_RUNTIME_MODULES = re.compile(r"^(libc|libm|libpthread|libstdc\+\+|libgcc_s|ld-linux[-\w.]*)\.so")
_SIGNAL_FRAMES = {
    "raise",
    "abort",
    "__restore_rt",
    "<signal handler called>",
    "__pthread_kill_implementation",
    "__pthread_kill_internal",
    "pthread_kill",
    "gsignal",
}
_SUFFIXES = re.compile(r"(?:\.(?:cold|isra|constprop|part|lto_priv)(?:\.\d+)?| \[clone [^]]*\])+$")


def baseline_name(name: str) -> str:
    """A function name as an ABRT-style reporter compares it: no clone suffixes (``.cold``,
    ``.isra.0``, ``[clone .cold]``), Rust hash (``::h0123456789abcdef``) or parameters."""
    name = _SUFFIXES.sub("", name)
    name = re.sub(r"::h[0-9a-f]{16}$", "", name).removesuffix(" const")
    if not name.endswith(")"):
        return name
    depth = 0
    for i in range(len(name) - 1, 0, -1):  # back to the "(" that opens the parameters
        depth += {")": 1, "(": -1}.get(name[i], 0)
        if depth == 0:
            return name[:i]
    return name


def baseline_frames(frames: Iterable[Mapping[str, Any]], keep: int = 3) -> list[str]:
    """The top ``keep`` frames the baseline hashes (frames: the snapshot's crashed thread).

    A frame without a name counts as ``module+0xOFFSET`` (stable across ASLR), as a reporter
    falls back to build id and offset; a frame in no module (a bad jump) is skipped.
    """
    out: list[str] = []
    for frame in frames:
        name = frame.get("function")
        module = str(frame.get("module") or "").rsplit("/", 1)[-1]
        if _RUNTIME_MODULES.match(module) or name in _SIGNAL_FRAMES:
            continue
        if name:
            out.append(baseline_name(str(name)))
        elif module and frame.get("module_offset") is not None:
            out.append(f"{module}+{int(frame['module_offset']):#x}")
        else:
            continue
        if len(out) == keep:
            break
    return out


def baseline_hash(frames: Iterable[Mapping[str, Any]]) -> str:
    """sha256 of the baseline's top three frames (one a line)."""
    return hashlib.sha256("\n".join(baseline_frames(frames)).encode()).hexdigest()


def blame_matches(expected: str, found: str | None, normalize: Callable[[str], str]) -> bool:
    """Whether the blamed function ``found`` (maybe ``module!function``) is ``expected``."""
    if not found:
        return False
    name = found.split("!", 1)[1] if "!" in found else found
    return normalize(name) == expected or name == expected
