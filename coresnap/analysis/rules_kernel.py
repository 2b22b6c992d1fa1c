"""Rules for a FreeBSD kernel panic (a snapshot with a ``kernel`` section, no signal, no core):
``kernel-panic`` first, then what the panic string (``lists/panic_labels.txt``), the trap block
and the frames say. Addresses in evidence are hex strings, as the userland rules write them.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Any

from coresnap.analysis.context import Context
from coresnap.analysis.document import crashed_frames
from coresnap.analysis.evidence import Verdict
from coresnap.analysis.rules import Rule, hexa

NULL_LIMIT = 0x10000  # as the userland rule: nothing is mapped below 64 KiB in the kernel map
# amd64 trap_msg[] numbers (sys/x86/include/trap.h: T_PAGEFLT 12, T_PROTFLT 9, T_DOUBLEFLT 8...)
TRAP_LABELS = {12: "page-fault", 9: "general-protection-fault", 8: "double-fault",
               1: "illegal-instruction", 18: "div-by-zero", 28: "machine-check", 19: "nmi"}  # fmt: skip
T_PAGEFLT = 12
ASSERT_FRAMES = ("kassert_panic", "__mtx_assert", "_sx_assert", "__rw_assert", "_rw_assert",
                 "witness_assert", "_lockmgr_assert")  # fmt: skip


@functools.cache
def panic_rules() -> list[tuple[str, re.Pattern[str]]]:
    """``(label, regex)`` of ``lists/panic_labels.txt``, in order."""
    text = resources.files("coresnap.analysis").joinpath("lists", "panic_labels.txt").read_text()
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            label, _, pattern = line.partition(" ")
            out.append((label, re.compile(pattern.strip())))
    return out


def _kernel(ctx: Context) -> dict[str, Any]:
    found = ctx.snapshot.get("kernel")
    return found if isinstance(found, dict) else {}


def _trap(ctx: Context) -> dict[str, Any] | None:
    """The trap block (amd64 trap_fatal's), when the dump has one with a trap number."""
    t = _kernel(ctx).get("trap")
    return t if isinstance(t, dict) and isinstance(t.get("number"), int) else None


def _trap_facts(t: dict[str, Any]) -> dict[str, Any]:
    return {"trap": t["number"], "trap_name": str(t.get("name") or ""), "mode": t.get("mode"),
            "fault_code": t.get("fault_code"), "address": hexa(t.get("fault_address")),
            "instruction_pointer": hexa(t.get("instruction_pointer"))}  # fmt: skip


def _add(verdict: Verdict, label: str, facts: dict[str, Any], confidence: float = 1.0) -> None:
    """A label once: the first rule that finds it gives its evidence."""
    if not verdict.has(label):
        verdict.add(label, facts, confidence)


class KernelPanic(Rule):
    """Every kernel dump is a panic: the message and where it was read from lead."""

    name = "kernel-panic"

    def predicate(self, ctx: Context, verdict: Verdict) -> bool:
        return True

    def action(self, ctx: Context, verdict: Verdict) -> None:
        k = _kernel(ctx)
        _add(
            verdict,
            "kernel-panic",
            {"message": k.get("panic"), "source": str(k.get("source") or "")},
        )


class PanicMessage(Rule):
    """The panic string names the fault as the kernel saw it (lists/panic_labels.txt)."""

    name = "panic-message"

    def predicate(self, ctx: Context, verdict: Verdict) -> bool:
        return bool(_kernel(ctx).get("panic"))

    def action(self, ctx: Context, verdict: Verdict) -> None:
        panic = _kernel(ctx)["panic"]
        for label, pattern in panic_rules():
            if pattern.search(panic):
                _add(verdict, label, {"message": panic, "rule": pattern.pattern})


class KernelTrap(Rule):
    """The trap block says what the CPU trapped on; a page fault below 64 KiB is a NULL
    dereference, above it an invalid pointer (less sure: the kernel map has holes)."""

    name = "kernel-trap"

    def predicate(self, ctx: Context, verdict: Verdict) -> bool:
        return _trap(ctx) is not None

    def action(self, ctx: Context, verdict: Verdict) -> None:
        t = _trap(ctx)
        assert t is not None
        facts, number, address = _trap_facts(t), t["number"], t.get("fault_address")
        if number in TRAP_LABELS:
            _add(verdict, TRAP_LABELS[number], facts)
        if number == T_PAGEFLT and address is not None:
            if address < NULL_LIMIT:
                _add(verdict, "null-deref", facts)
            else:
                _add(verdict, "invalid-pointer", facts, 0.7)


class KernelAccessKind(Rule):
    """amd64 trap_fatal's ``fault code = supervisor read data, page not present`` gives the
    access kind."""

    name = "kernel-access-kind"

    def predicate(self, ctx: Context, verdict: Verdict) -> bool:
        return _trap(ctx) is not None

    def action(self, ctx: Context, verdict: Verdict) -> None:
        code = (_trap(ctx) or {}).get("fault_code")
        text = (code or "").lower()
        access = ("memory.exec" if "instruction" in text else "memory.write" if "write" in text
                  else "memory.read" if "read" in text else None)  # fmt: skip
        if access is not None:
            _add(verdict, access, {"fault_code": code})


class KernelAssert(Rule):
    """A KASSERT or lock assertion panics through one of these frames."""

    name = "kernel-assert"

    def predicate(self, ctx: Context, verdict: Verdict) -> bool:
        return any(f.get("function") in ASSERT_FRAMES for f in crashed_frames(ctx.snapshot))

    def action(self, ctx: Context, verdict: Verdict) -> None:
        names = [str(f["function"]) for f in crashed_frames(ctx.snapshot) if f.get("function")]
        found = next(n for n in names if n in ASSERT_FRAMES)
        _add(verdict, "assert", {"message": _kernel(ctx).get("panic") or "", "frame": found}, 0.9)
