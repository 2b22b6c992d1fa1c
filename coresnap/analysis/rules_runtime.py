"""Classifiers for language runtimes that kill the process themselves: Go (``GOTRACEBACK=crash``:
the runtime prints the panic or fatal error, then raises SIGABRT) and Rust (``-C panic=abort``:
std's panic handler prints the message, then calls abort()). Without them every such crash is a
plain ``abort``; the runtime function on the crashed thread says what really happened
(``runtimes/go.txt``, ``runtimes/rust.txt``) and the runtime's own records give the text.
"""

from __future__ import annotations

from typing import Any

from coresnap.analysis import golang, rustrt
from coresnap.analysis.context import Context
from coresnap.analysis.evidence import SIGABRT, SIGNAL_NAMES, Verdict, code_name
from coresnap.analysis.rules import Rule, signal_facts
from coresnap.analysis.runtimes import Match, decide, rules, runtime_name

# The Go runtime functions whose string argument is the "fatal error: …" text.
GO_THROWS = ("runtime.throw", "runtime.fatal")


def _names(ctx: Context) -> list[str]:
    return [str(f.get("function") or "") for f in ctx.frames]


def _decided(ctx: Context, verdict: Verdict, runtime: str) -> Match | None:
    if ctx.signo != SIGABRT or verdict.fault_labels():
        return None
    return decide(runtime, _names(ctx))


def _go_fault(ctx: Context, signal: dict[str, Any]) -> dict[str, Any]:
    """The signal sigpanic saw (g.sig, g.sigcode0/1, g.sigpc) as a human reads it."""
    pc = int(signal["pc"], 16) if signal.get("pc") else None
    fault = {
        "signal": SIGNAL_NAMES.get(signal["number"], signal["number"]),
        "code": code_name(signal["number"], signal["code"]) or signal["code"],
        "address": signal["address"],
        "pc": signal["pc"],
    }
    if pc is not None:
        fault["function"] = ctx.describe_address(pc).get("function")
    return fault


def go_record(ctx: Context, path: str) -> dict[str, Any]:
    """What the Go runtime recorded (an observation): the goroutine, the signal it saw, the
    panic text or the fatal error's text, the panic value's type."""
    out: dict[str, Any] = {}
    g = golang.goroutine(ctx, path)
    if g is not None:
        out["goroutine"] = g["goid"]
        if "signal" in g:
            out["fault"] = _go_fault(ctx, g["signal"])
    arg = golang.panic_arg(ctx, path, g.get("panic") if g else None)
    text = golang.panic_text(ctx, path, *arg)[0] if arg else None
    names = [runtime_name(n) for n in _names(ctx)]
    throw = next((i for i, n in enumerate(names) if n in GO_THROWS), None)
    if text is not None:
        out["message"] = f"panic: {text}"
    elif throw is not None and (thrown := golang.throw_text(ctx, ctx.frames, throw)):
        out["message"] = f"fatal error: {thrown}"
    value = _gopanic_value(ctx)
    if value is not None:
        out["value_type"] = golang.panic_text(ctx, path, *value)[1]
    return out


def _gopanic_value(ctx: Context) -> tuple[int, int] | None:
    """The value passed to panic() (``runtime.gopanic``'s ``e``) as the snapshot recorded it."""
    for frame in ctx.frames:
        if runtime_name(str(frame.get("function") or "")) != "runtime.gopanic":
            continue
        for var in frame.get("variables") or []:
            value = var.get("value") if isinstance(var, dict) else None
            if var.get("name") == "e" and isinstance(value, dict):
                typ, data = value.get("_type"), value.get("data")
                if isinstance(typ, int) and isinstance(data, int) and typ:
                    return typ, data
    return None


class GoRuntime(Rule):
    """A Go program died in the runtime's panic or fatal-error path: the first rule of
    ``runtimes/go.txt`` matching a frame decides (nil dereference, bounds, division, explicit
    panic, fatal error); the runtime's ``g`` and ``_panic`` give the fault and the text."""

    name = "go-runtime"

    def predicate(self, ctx: Context, verdict: Verdict) -> bool:
        return _decided(ctx, verdict, "go") is not None

    def action(self, ctx: Context, verdict: Verdict) -> None:
        found = _decided(ctx, verdict, "go")
        assert found is not None
        path = str(ctx.frames[found.frame].get("module") or "")
        record = ctx.observe("go_runtime", lambda: go_record(ctx, path)) or {}
        facts = {**signal_facts(ctx), "runtime": "go", "runtime_frame": found.function, **record}
        if "message" not in record:
            facts["message"] = None
            verdict.notes.append(f"{self.name}: the panic's text was not readable from memory")
        if found.label == "null-deref" and record.get("fault"):
            facts["address"] = record["fault"]["address"]
        verdict.add(found.label, facts)


class RustPanic(Rule):
    """A Rust program built with ``-C panic=abort`` panicked: the first rule of
    ``runtimes/rust.txt`` matching a frame decides (bounds check, division by zero, unwrap,
    explicit panic); the payload and ``Location`` on the stack give the message and the place."""

    name = "rust-panic"

    def predicate(self, ctx: Context, verdict: Verdict) -> bool:
        return _decided(ctx, verdict, "rust") is not None

    def action(self, ctx: Context, verdict: Verdict) -> None:
        found = _decided(ctx, verdict, "rust")
        assert found is not None
        record = ctx.observe("rust_panic", lambda: rustrt.panic_record(ctx)) or {}
        facts = {**signal_facts(ctx), "runtime": "rust", "runtime_frame": found.function, **record}
        if "message" not in record:
            facts["message"] = None
            verdict.notes.append(f"{self.name}: no panic payload with its text on the stack")
        label = found.label
        if label == "panic" and record.get("message"):
            by_message = _label_from_message("rust_messages.txt", record["message"])
            if by_message is not None:
                label, facts["decided_by"] = by_message, "message"
        verdict.add(label, facts)


def _label_from_message(name: str, message: str) -> str | None:
    """The label of the first rule of ``runtimes/<name>`` whose expression the message matches."""
    return next(
        (r.label for r in rules(name.removesuffix(".txt")) if r.pattern.search(message)), None
    )
