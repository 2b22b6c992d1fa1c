"""Fault analysis: classification with evidence, annotations, fingerprint and quality score.

``analyze(snapshot, core)`` fills the snapshot's ``classification``, ``annotations``,
``fingerprint`` and ``quality`` in place. ``core`` is the opened core while it is at hand (a
``coresnap.corefile`` ``Core``, or a drgn ``Program`` for heap walks with libc's debug info); with
``core=None`` (a stored snapshot) memory-derived facts are reused from the previous
classification's ``observations`` and everything else is recomputed.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from typing import Any

from coresnap.analysis.annotate import annotate
from coresnap.analysis.classify import classify, classify_kernel
from coresnap.analysis.context import Context
from coresnap.analysis.fingerprint import fingerprint
from coresnap.analysis.quality import score

__all__ = ["analyze", "warm"]

# Data files that are not one regular expression a line (their own modules read them, below).
_NOT_PATTERNS = frozenset(
    {"families.txt", "panic_labels.txt", "go_bounds.txt", "rust_payloads.txt"}
)


def warm() -> None:
    """Read and compile the rule data files and find libstdc++'s demangler now, once, for the
    processes forked after (coresnapd's warm worker): each snapshot child would otherwise
    compile ~200 regular expressions again (~0.1 s of a 64-thread core's snapshot)."""
    from coresnap.analysis.demangle import _cxa_demangle
    from coresnap.analysis.fingerprint import _families
    from coresnap.analysis.golang import _bounds_formats
    from coresnap.analysis.names import patterns
    from coresnap.analysis.rules_kernel import panic_rules
    from coresnap.analysis.runtimes import rules
    from coresnap.analysis.rustrt import _payloads

    for entry in resources.files(__package__).joinpath("lists").iterdir():
        if entry.name.endswith(".txt") and entry.name not in _NOT_PATTERNS:
            patterns(entry.name)
    for entry in resources.files(f"{__package__}.runtimes").iterdir():
        if entry.name.endswith(".txt") and entry.name not in _NOT_PATTERNS:
            rules(entry.name.removesuffix(".txt"))
    for read in (_families, panic_rules, _payloads, _bounds_formats, _cxa_demangle):
        read()


def analyze(snapshot: dict[str, Any], core: Any = None) -> dict[str, Any]:
    """Fill ``classification``, ``annotations``, ``fingerprint``, ``quality``; return ``snapshot``.

    Never raises on odd snapshots: a part that fails records why (a note, or an "unknown" label)
    and the others still run.
    """
    ctx = Context.build(snapshot, core)
    if isinstance(snapshot.get("kernel"), dict):  # a FreeBSD kernel panic: no signal, no core
        # Classification and fingerprint again from its plain data; quality stays as the
        # builder scored it.
        snapshot["classification"] = classify_kernel(ctx)
        snapshot["fingerprint"] = fingerprint(snapshot)
        return snapshot
    classification = classify(ctx)
    snapshot["classification"] = classification
    steps: tuple[tuple[str, Callable[[], Any], Any], ...] = (
        ("annotations", lambda: annotate(ctx, classification), []),
        ("fingerprint", lambda: fingerprint(snapshot), None),
        ("quality", lambda: score(snapshot), None),
    )
    for key, compute, empty in steps:
        try:
            snapshot[key] = compute()
        except Exception as e:  # a malformed snapshot costs this part only
            classification["notes"].append(f"{key}: failed: {type(e).__name__}: {e}")
            snapshot[key] = empty
    # Annotations may have observed more memory (free chunks): keep it for re-runs.
    classification["observations"] = {k: v for k, v in ctx.observations.items() if v is not None}
    return snapshot
