"""The classification engine: ordered small rules, each a named class (Socorro-style).

Order matters: who sent the signal first, then what the hardware said (bus errors, division,
illegal instructions), then where the pc is, then the data fault (stack, heap, NULL, any other
pointer) and its access kind, then deliberate aborts from the most specific message to plain
abort(). A rule that raises is recorded as a note and the engine goes on; when no rule finds
evidence the verdict is ``unknown`` with the reason. A FreeBSD kernel panic (no signal, no core)
runs :data:`KERNEL_RULES` instead.
"""

from __future__ import annotations

from typing import Any

from coresnap.analysis import (
    rules_abort,
    rules_header,
    rules_heap,
    rules_js,
    rules_kernel,
    rules_memory,
    rules_reuse,
    rules_runtime,
    rules_signal,
)
from coresnap.analysis.context import Context
from coresnap.analysis.evidence import Verdict
from coresnap.analysis.rules import Rule

RULES: list[Rule] = [
    rules_signal.Killed(),
    rules_signal.Raised(),
    rules_js.UncaughtJSException(),
    rules_memory.InferredFault(),
    rules_signal.MachineCheck(),
    rules_signal.BusError(),
    rules_signal.DivByZero(),
    rules_signal.IllegalInstruction(),
    rules_signal.Breakpoint(),
    rules_memory.ExecFault(),
    rules_reuse.StaleCall(),
    rules_memory.StackOverflow(),
    rules_heap.UseAfterFree(),
    rules_memory.NullDeref(),
    rules_memory.InvalidPointer(),
    rules_memory.AccessKind(),
    rules_runtime.GoRuntime(),
    rules_runtime.RustPanic(),
    rules_header.CorruptChunkHeader(),
    rules_abort.AbortMessage(),
    rules_abort.FrameMarkers(),
    rules_abort.UncaughtException(),
    rules_abort.Abort(),
]
KERNEL_RULES: list[Rule] = [
    rules_kernel.KernelPanic(),
    rules_kernel.PanicMessage(),
    rules_kernel.KernelTrap(),
    rules_kernel.KernelAccessKind(),
    rules_kernel.KernelAssert(),
]


def _why_unknown(ctx: Context) -> str:
    if ctx.signo is None:
        return "the snapshot has no signal number"
    if ctx.si_code is None:
        return f"signal {ctx.signo} without si_code: cannot tell a fault from a sent signal"
    if ctx.signal.get("sender_pid") == ctx.pid and ctx.si_code <= 0:
        return f"signal {ctx.signo} sent by the process to itself, no rule for it"
    return f"no rule matches signal {ctx.signo} code {ctx.si_code}"


def classify(ctx: Context, rules: list[Rule] | None = None) -> dict[str, Any]:
    """Run ``rules`` (default :data:`RULES`) in order and return the classification dict."""
    verdict = _run(ctx, rules if rules is not None else RULES)
    if not verdict.evidence:
        verdict.add("unknown", {"reason": _why_unknown(ctx)}, 0.0)
    confidence = min((e.confidence for e in verdict.evidence), default=0.0)
    return {
        "labels": verdict.labels,
        "evidence": [e.as_dict() for e in verdict.evidence],
        "notes": verdict.notes,
        "confidence": confidence,
        "observations": {k: v for k, v in ctx.observations.items() if v is not None},
    }


def classify_kernel(ctx: Context) -> dict[str, Any]:
    """The classification of a kernel panic snapshot (:data:`KERNEL_RULES`): labels, evidence,
    confidence (notes only when a rule failed; no memory, so no observations)."""
    verdict = _run(ctx, KERNEL_RULES)
    out: dict[str, Any] = {
        "labels": verdict.labels,
        "evidence": [e.as_dict() for e in verdict.evidence],
        "confidence": min((e.confidence for e in verdict.evidence), default=1.0),
    }
    if verdict.notes:
        out["notes"] = verdict.notes
    return out


def _run(ctx: Context, rules: list[Rule]) -> Verdict:
    verdict = Verdict()
    for rule in rules:
        try:
            if rule.predicate(ctx, verdict):
                rule.action(ctx, verdict)
        except Exception as e:  # one broken rule must not cost the others' verdicts
            verdict.notes.append(f"{rule.name}: rule failed: {type(e).__name__}: {e}")
    return verdict
