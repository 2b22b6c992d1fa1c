"""Classifiers for deliberate deaths: abort() after a failed check, and C++ terminate."""

from __future__ import annotations

import re
from typing import Any

from coresnap.analysis.context import Context
from coresnap.analysis.evidence import SIGABRT, Verdict
from coresnap.analysis.fingerprint import normalize_function
from coresnap.analysis.messages import abort_message, exception_type
from coresnap.analysis.rules import Rule, signal_facts
from coresnap.analysis.rules_header import header_check
from coresnap.analysis.rules_heap import freed_block

# glibc's messages (malloc/malloc.c malloc_printerr, debug/fortify_fail.c, assert/assert.c),
# first match wins; a confidence < 1 where the message admits another cause.
MESSAGES: list[tuple[re.Pattern[str], str, float]] = [
    (re.compile(r"Assertion `.*' failed"), "assert", 1.0),
    (
        re.compile(r"double free detected in tcache|double free or corruption \(fasttop\)"),
        "double-free",
        1.0,
    ),
    (re.compile(r"double free or corruption \(!prev\)"), "double-free", 0.7),
    (re.compile(r"double free or corruption \((top|out)\)"), "invalid-free", 0.6),
    (re.compile(r"(free|munmap_chunk|realloc)\(\): invalid pointer"), "invalid-free", 0.9),
    (re.compile(r"free\(\): (invalid size|unaligned chunk detected)"), "invalid-free", 0.8),
    (re.compile(r"stack smashing detected"), "stack-smash", 1.0),
    (re.compile(r"buffer overflow detected"), "buffer-overflow", 1.0),
    (
        re.compile(r"malloc|free\(\)|corrupted|tcache|unsorted|smallbin|largebin|chunk"),
        "heap-corruption",
        0.9,
    ),
]
_ASSERT = re.compile(
    r"^(?:(?P<program>[^:]*): )?(?P<file>[^:]+):(?P<line>\d+): (?P<function>.*?): "
    r"Assertion `(?P<expression>.*)' failed"
)
# Frame markers: (normalized function, label, confidence) for when no message is readable.
MARKERS = [
    ("__assert_fail", "assert", 0.9),
    ("__stack_chk_fail", "stack-smash", 0.9),
    ("__cxa_pure_virtual", "cxx-pure-virtual", 1.0),
    ("malloc_printerr", "heap-corruption", 0.5),
    ("__fortify_fail", "buffer-overflow", 0.8),
]
THROWERS = {"__cxa_throw", "__cxa_rethrow", "_Unwind_RaiseException", "_Unwind_Resume_or_Rethrow"}
TERMINATORS = {"std::terminate", "__cxxabiv1::__terminate", "__cxa_call_terminate"}


def _frames(ctx: Context) -> list[str]:
    return [normalize_function(str(f.get("function")))[0] for f in ctx.frames if f.get("function")]


class AbortMessage(Rule):
    """glibc leaves the text of a failed assert, a malloc check or the stack protector in
    ``__abort_msg``; the text names the bug more precisely than any frame."""

    name = "abort-message"

    def predicate(self, ctx: Context, verdict: Verdict) -> bool:
        return ctx.signo == SIGABRT and not verdict.fault_labels()

    def action(self, ctx: Context, verdict: Verdict) -> None:
        message = ctx.observe("abort_message", lambda: abort_message(ctx))
        if not message:
            verdict.notes.append("abort-message: no __abort_msg in the core (or no memory)")
            return
        for pattern, label, confidence in MESSAGES:
            if pattern.search(message):
                facts: dict[str, Any] = {**signal_facts(ctx), "message": message}
                match = _ASSERT.search(message) if label == "assert" else None
                if match:
                    facts.update({k: v for k, v in match.groupdict().items() if v is not None})
                if label == "double-free":
                    block = ctx.observe("freed_block", lambda: freed_block(ctx))
                    if block:
                        facts["allocator"] = block
                if label == "invalid-free":
                    check = ctx.observe("freed_chunk", lambda: header_check(ctx))
                    if check:
                        facts["allocator"] = check
                verdict.add(label, facts, confidence)
                return
        verdict.notes.append(f"abort-message: no rule for message {message!r}")


class FrameMarkers(Rule):
    """Some runtime functions only run on one path to abort (``__assert_fail``,
    ``__stack_chk_fail``, ``__cxa_pure_virtual``): their frame is evidence even without memory."""

    name = "frame-markers"

    def predicate(self, ctx: Context, verdict: Verdict) -> bool:
        return ctx.signo == SIGABRT and not verdict.fault_labels()

    def action(self, ctx: Context, verdict: Verdict) -> None:
        names = _frames(ctx)
        for marker, label, confidence in MARKERS:
            if marker in names:
                facts = {**signal_facts(ctx), "frame": marker, "frame_index": names.index(marker)}
                verdict.add(label, facts, confidence)
                return


class UncaughtException(Rule):
    """A C++ exception reached ``std::terminate`` from ``__cxa_throw``: nobody caught it. The
    exception's type is read from its ``__cxa_exception`` header when memory is at hand."""

    name = "cxx-uncaught-exception"

    def predicate(self, ctx: Context, verdict: Verdict) -> bool:
        names = set(_frames(ctx))
        return (
            ctx.signo == SIGABRT and bool(names & THROWERS) and not verdict.has("cxx-pure-virtual")
        )

    def action(self, ctx: Context, verdict: Verdict) -> None:
        names = _frames(ctx)
        facts: dict[str, Any] = {**signal_facts(ctx)}
        facts["throw_frame"] = next(n for n in names if n in THROWERS)
        facts["terminate_frame"] = next((n for n in names if n in TERMINATORS), None)
        found = ctx.observe("exception", lambda: exception_type(ctx))
        if found:
            facts.update(found)
        verdict.add("cxx-uncaught-exception", facts, 1.0 if found else 0.8)


class Abort(Rule):
    """SIGABRT with no more specific cause: the program called abort() (or raised SIGABRT)."""

    name = "abort"

    def predicate(self, ctx: Context, verdict: Verdict) -> bool:
        return ctx.signo == SIGABRT and not verdict.fault_labels()

    def action(self, ctx: Context, verdict: Verdict) -> None:
        facts = {**signal_facts(ctx), "sender_pid": ctx.signal.get("sender_pid")}
        facts["abort_frame"] = "abort" in _frames(ctx)
        verdict.add("abort", facts, 1.0 if facts["abort_frame"] else 0.8)
