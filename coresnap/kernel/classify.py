"""Labels of a kernel panic, each with its evidence: ``kernel-panic`` first, then what the
panic string (rules in ``lists/panic_labels.txt``), the trap block and the frames say.

Evidence items have the shape of the userland analysis (docs/analysis.md):
``{"label", "facts", "confidence"}``, addresses as hex strings.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Any

from coresnap.kernel.model import KernelDump, Trap
from coresnap.snapshot.document import crashed_frames

NULL_LIMIT = 0x10000  # as the userland rule: nothing is mapped below 64 KiB in the kernel map
# amd64 trap_msg[] numbers (sys/x86/include/trap.h: T_PAGEFLT 12, T_PROTFLT 9, T_DOUBLEFLT 8...)
TRAP_LABELS = {12: "page-fault", 9: "general-protection-fault", 8: "double-fault",
               1: "illegal-instruction", 18: "div-by-zero", 28: "machine-check", 19: "nmi"}  # fmt: skip
ASSERT_FRAMES = ("kassert_panic", "__mtx_assert", "_sx_assert", "__rw_assert", "_rw_assert",
                 "witness_assert", "_lockmgr_assert")  # fmt: skip


@functools.cache
def rules() -> list[tuple[str, re.Pattern[str]]]:
    """``(label, regex)`` of ``lists/panic_labels.txt``, in order."""
    text = resources.files("coresnap.kernel").joinpath("lists", "panic_labels.txt").read_text()
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            label, _, pattern = line.partition(" ")
            out.append((label, re.compile(pattern.strip())))
    return out


def _access(fault_code: str | None) -> str | None:
    """amd64 trap_fatal's ``fault code = supervisor read data, page not present``."""
    code = (fault_code or "").lower()
    if "instruction" in code:
        return "memory.exec"
    if "write" in code:
        return "memory.write"
    if "read" in code:
        return "memory.read"
    return None


def classify(dump: KernelDump) -> dict[str, Any]:
    """``{"labels", "evidence", "confidence"}`` for ``dump``."""
    names = [f.function for f in dump.backtrace.frames if f.function]
    return _classify(dump.panic, dump.source, dump.msgbuf.trap, names)


def classify_snapshot(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The same labels from a stored kernel snapshot (its ``kernel`` section and frames)."""
    kernel = snapshot.get("kernel") or {}
    t = kernel.get("trap")
    trap = None
    if isinstance(t, dict) and isinstance(t.get("number"), int):
        trap = Trap(t["number"], str(t.get("name") or ""), t.get("mode"), t.get("fault_address"),
                    t.get("fault_code"), t.get("instruction_pointer"))  # fmt: skip
    names = [str(f["function"]) for f in crashed_frames(snapshot) if f.get("function")]
    return _classify(kernel.get("panic"), str(kernel.get("source") or ""), trap, names)


def reanalyze(snapshot: dict[str, Any]) -> dict[str, Any]:
    """What ``coresnap.analysis.analyze`` does for a kernel snapshot: classification and
    fingerprint again from its plain data (no core; quality stays as the builder scored it)."""
    from coresnap.analysis.fingerprint import fingerprint

    snapshot["classification"] = classify_snapshot(snapshot)
    snapshot["fingerprint"] = fingerprint(snapshot)
    return snapshot


def _classify(
    panic: str | None, source: str, trap: Trap | None, names: list[str]
) -> dict[str, Any]:
    evidence: list[dict[str, Any]] = []

    def add(label: str, facts: dict[str, Any], confidence: float = 1.0) -> None:
        if label not in [e["label"] for e in evidence]:
            evidence.append({"label": label, "facts": facts, "confidence": confidence})

    add("kernel-panic", {"message": panic, "source": source})
    for label, pattern in rules():
        if panic and pattern.search(panic):
            add(label, {"message": panic, "rule": pattern.pattern})
    if trap is not None:
        facts = {"trap": trap.number, "trap_name": trap.name, "mode": trap.mode,
                 "fault_code": trap.fault_code,
                 "address": None if trap.fault_address is None else hex(trap.fault_address),
                 "instruction_pointer": None if trap.instruction_pointer is None
                 else hex(trap.instruction_pointer)}  # fmt: skip
        if trap.number in TRAP_LABELS:
            add(TRAP_LABELS[trap.number], facts)
        if trap.number == 12 and trap.fault_address is not None:
            if trap.fault_address < NULL_LIMIT:
                add("null-deref", facts)
            else:
                add("invalid-pointer", facts, 0.7)
        if (access := _access(trap.fault_code)) is not None:
            add(access, {"fault_code": trap.fault_code})
    if found := next((n for n in names if n in ASSERT_FRAMES), None):
        add("assert", {"message": panic or "", "frame": found}, 0.9)
    return {
        "labels": [e["label"] for e in evidence],
        "evidence": evidence,
        "confidence": min((e["confidence"] for e in evidence), default=1.0),
    }
