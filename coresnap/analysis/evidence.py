"""The shapes classification produces: a label with the facts that justify it, and notes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# si_code values (Linux include/uapi/asm-generic/siginfo.h). Kernel-generated faults are > 0;
# SI_USER (kill), SI_QUEUE (sigqueue) and SI_TKILL (tgkill, as raise/abort use) are not.
SI_USER, SI_QUEUE, SI_TKILL = 0, -1, -6
SEGV_CODES = {1: "SEGV_MAPERR", 2: "SEGV_ACCERR", 3: "SEGV_BNDERR", 4: "SEGV_PKUERR"}
BUS_CODES = {
    1: "BUS_ADRALN",
    2: "BUS_ADRERR",
    3: "BUS_OBJERR",
    4: "BUS_MCEERR_AR",
    5: "BUS_MCEERR_AO",
}
FPE_CODES = {1: "FPE_INTDIV", 2: "FPE_INTOVF", 3: "FPE_FLTDIV", 4: "FPE_FLTOVF", 5: "FPE_FLTUND"}
TRAP_CODES = {1: "TRAP_BRKPT", 2: "TRAP_TRACE", 3: "TRAP_BRANCH", 4: "TRAP_HWBKPT"}
ILL_CODES = {1: "ILL_ILLOPC", 2: "ILL_ILLOPN", 3: "ILL_ILLADR", 4: "ILL_ILLTRP", 5: "ILL_PRVOPC"}
GENERIC_CODES = {SI_USER: "SI_USER", SI_QUEUE: "SI_QUEUE", SI_TKILL: "SI_TKILL", 0x80: "SI_KERNEL"}
SIGNAL_NAMES = {4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 11: "SIGSEGV"}
SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGSEGV = 4, 5, 6, 7, 8, 11
_BY_SIGNAL = {
    SIGSEGV: SEGV_CODES,
    SIGBUS: BUS_CODES,
    SIGFPE: FPE_CODES,
    SIGILL: ILL_CODES,
    SIGTRAP: TRAP_CODES,
}

ACCESS_KINDS = ("memory.read", "memory.write", "memory.exec")


def code_name(signo: int | None, code: int | None) -> str | None:
    """The symbolic name of ``si_code`` for ``signo`` (codes are per-signal when positive)."""
    if code is None:
        return None
    if code > 0 and code != 0x80:
        return _BY_SIGNAL.get(signo or 0, {}).get(code)
    return GENERIC_CODES.get(code)


@dataclass
class Evidence:
    """One label and the checkable facts behind it; ``confidence`` < 1 when they are indirect."""

    label: str
    facts: dict[str, Any]
    confidence: float = 1.0

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "facts": self.facts, "confidence": self.confidence}


@dataclass
class Verdict:
    """What the rules found so far: labels in order, their evidence, notes for humans."""

    evidence: list[Evidence] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        seen: list[str] = []
        for e in self.evidence:
            if e.label not in seen:
                seen.append(e.label)
        return seen

    def has(self, *labels: str) -> bool:
        return any(label in self.labels for label in labels)

    def add(
        self, label: str, facts: dict[str, Any], confidence: float = 1.0, first: bool = False
    ) -> None:
        """Record ``label``; ``first`` puts it before the labels found so far (a rule that
        explains an earlier rule's finding: the cause leads, the symptom stays)."""
        item = Evidence(label, facts, round(confidence, 2))
        self.evidence.insert(0, item) if first else self.evidence.append(item)

    def drop(self, label: str, why: str) -> None:
        """Withdraw ``label`` (an earlier rule's guess that later evidence disproves), noting why."""
        if self.has(label):
            self.evidence = [e for e in self.evidence if e.label != label]
            self.notes.append(f"{label} withdrawn: {why}")

    def fault_labels(self) -> list[str]:
        return [lbl for lbl in self.labels if lbl not in ACCESS_KINDS]
