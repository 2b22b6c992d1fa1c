"""Classifiers for Node.js processes: a JS exception nobody caught, which made V8 or Node abort.

``node --abort-on-uncaught-exception`` (how Node services get cores) dies in V8's
``Isolate::CreateMessageOrAbort`` → ``v8::base::OS::Abort`` when a thrown exception has no
handler: SIGTRAP (x86-64's int3 from V8_IMMEDIATE_CRASH), SIGILL (ud2/brk on other builds) or
SIGABRT (``--no-hard-abort``). An unhandled promise rejection, or an exception Node's own fatal
handler sees, aborts from ``node::errors::TriggerUncaughtException`` (SIGABRT). A native crash
inside Node (``process.abort()``, an addon's NULL dereference) has neither frame above its JS
frames and keeps the labels of the other rules.
"""

from __future__ import annotations

from typing import Any

from coresnap.analysis.context import Context
from coresnap.analysis.demangle import demangle
from coresnap.analysis.evidence import SIGABRT, SIGILL, SIGTRAP, Verdict
from coresnap.analysis.rules import Rule, signal_facts

# What only the uncaught-exception abort paths run (V8 src/execution/isolate.cc, Node
# src/node_errors.cc): a native frame above the JS frames, by the start of its demangled name.
ABORT_FRAMES: list[tuple[str, str]] = [
    ("v8::internal::Isolate::CreateMessageOrAbort", "v8 --abort-on-uncaught-exception"),
    ("node::errors::TriggerUncaughtException", "node fatal exception"),
]
# A stripped libnode (Debian's) no longer names the binding Node's own JS calls to die of an
# unhandled rejection or an ES module's error; there the innermost JS frame is Node's (its
# script starts so), the signal SIGABRT, and the exception must be found in memory: a native
# abort under Node's JS (a failed CHECK) holds none.
NODE_JS = "node:internal/"
NODE_JS_PATH = "node fatal exception (seen from node's JS)"
SIGNALS = (SIGTRAP, SIGILL, SIGABRT)


def _abort_frame(ctx: Context) -> tuple[int, str, str] | None:
    """(index, function, path) of the frame that shows an uncaught-exception abort."""
    for index, frame in enumerate(ctx.frames):
        if frame.get("language") == "js":
            node_js = str(frame.get("file") or "").startswith(NODE_JS) and ctx.signo == SIGABRT
            return (index, str(frame.get("function")), NODE_JS_PATH) if node_js else None
        name = demangle(str(frame.get("function") or ""))
        for prefix, path in ABORT_FRAMES:
            if name.startswith(prefix):
                return index, prefix, path
    return None


def _read_exception(ctx: Context) -> dict[str, Any] | None:
    """The exception and throw site from the V8 heap (coresnap.analysis.v8.exception)."""
    from coresnap.analysis.v8 import v8_heap
    from coresnap.analysis.v8.exception import uncaught
    from coresnap.analysis.v8.metadata import V8LayoutUnknown

    sp = ctx.sp
    stack = ctx.mapping_at(sp) if sp is not None else None
    if sp is None or stack is None:
        return {"unreadable": "no stack pointer in a mapping"}
    try:
        heap = v8_heap(ctx.snapshot, ctx.read)
    except V8LayoutUnknown as e:
        return {"unreadable": str(e)}
    found = uncaught(heap, sp, ctx.registers, stack.end)
    if found is None:
        return {"unreadable": "no JSMessageObject on the crashed thread's stack"}
    if "thrown_at" in found:
        found["thrown_at"].pop("position", None)
    return found


def _text(exception: dict[str, Any]) -> str:
    """The exception as Node prints it after "Uncaught " (V8's ErrorUtils::ToString for an
    Error, the value itself for a string or number, ``#<Object>`` for other objects)."""
    kind, message = exception.get("type"), exception.get("message")
    if kind in ("string", "number"):
        return str(message)
    if message is None:
        return str(kind) if kind in ("null", "undefined", "true", "false") else f"#<{kind}>"
    return f"{kind}: {message}" if message else str(kind)


def _site(ctx: Context, found: dict[str, Any]) -> dict[str, Any] | None:
    """Where it was thrown, with the function's name: V8's message gives file, line and column;
    the name comes from the JS frame at that line, or the Error's own stack."""
    site = found.get("thrown_at")
    if not site:
        return None
    site = {"function": None, **site}
    candidates = [f for f in ctx.frames if f.get("language") == "js"]
    candidates += (found.get("exception") or {}).get("stack") or []
    for frame in candidates:
        if frame.get("file") == site["file"] and frame.get("line") == site["line"]:
            site["function"] = frame.get("function")
            break
    return site


class UncaughtJSException(Rule):
    """A JS exception reached the top of the stack with no handler and V8 (or Node) aborted:
    the bug is the exception, named by its type, message and throw site, not the trap."""

    name = "js-uncaught-exception"

    def predicate(self, ctx: Context, verdict: Verdict) -> bool:
        if ctx.signo not in SIGNALS or verdict.has("killed"):
            return False
        frame = _abort_frame(ctx)
        if frame is None or frame[2] != NODE_JS_PATH:
            return frame is not None
        found = ctx.observe("js_exception", lambda: _read_exception(ctx)) or {}
        return bool(found.get("exception"))

    def action(self, ctx: Context, verdict: Verdict) -> None:
        frame = _abort_frame(ctx)
        if frame is None:
            return
        index, function, path = frame
        facts: dict[str, Any] = {**signal_facts(ctx), "abort_frame": function}
        facts.update(frame_index=index, abort_path=path)
        found = ctx.observe("js_exception", lambda: _read_exception(ctx)) or {}
        exception = found.get("exception")
        if exception:
            facts["exception_type"] = exception.get("type")
            facts["exception_message"] = exception.get("message")
            facts["exception"] = _text(exception)
        elif found.get("unreadable"):
            verdict.notes.append(f"{self.name}: exception not read: {found['unreadable']}")
        site = _site(ctx, found)
        if site is not None:
            facts["thrown_at"] = site
        verdict.add(self.name, facts, 1.0 if exception else 0.8)
