"""The rule protocol shared by every classifier, and the facts most rules start from."""

from __future__ import annotations

from typing import Any

from coresnap.analysis.context import Context
from coresnap.analysis.disasm import MAX_INSN, Instruction, Operand, arch_mode, decode
from coresnap.analysis.evidence import SIGNAL_NAMES, Verdict, code_name


class Rule:
    """A classifier: ``predicate`` says whether it applies, ``action`` adds labels and evidence.

    The docstring of each subclass is the reason the rule exists; the engine shows it in notes.
    """

    name = "rule"

    def predicate(self, ctx: Context, verdict: Verdict) -> bool:
        raise NotImplementedError

    def action(self, ctx: Context, verdict: Verdict) -> None:
        raise NotImplementedError


def hexa(value: int | None) -> str | None:
    return None if value is None else f"{value:#x}"


def signal_facts(ctx: Context) -> dict[str, Any]:
    """Signal, code and fault address as a human reads them."""
    signo, code = ctx.signo, ctx.si_code
    name = ctx.signal.get("name") or SIGNAL_NAMES.get(signo or 0, f"signal {signo}")
    facts: dict[str, Any] = {
        "signal": name,
        "code": ctx.signal.get("code_name") or code_name(signo, code) or code,
    }
    if ctx.fault_address is not None:
        facts["address"] = hexa(ctx.fault_address)
    return facts


def kernel_fault(ctx: Context, *signals: int) -> bool:
    """The kernel raised ``signals`` for a fault of this thread (si_code > 0), not a sender."""
    code = ctx.si_code
    no_info = ctx.signal.get("code_name") == "SI_NOINFO"  # NetBSD: a code that says nothing
    return ctx.signo in signals and code is not None and code > 0 and not no_info


def _read_code(ctx: Context, pc: int) -> bytes | None:
    for size in range(MAX_INSN, 0, -1):  # the instruction may end just before a mapping's end
        data = ctx.read(pc, size)
        if data is not None:
            return data
    return None


def _compute_instruction(ctx: Context) -> dict[str, Any] | None:
    if arch_mode(ctx.registers) is None:
        return None  # only x86 is decoded: another architecture's bytes would mean nothing
    pc = ctx.pc
    code = _read_code(ctx, pc) if pc is not None else None
    if pc is None or code is None:
        return None
    insn = decode(code, pc, ctx.registers)
    return insn.as_dict() if insn else None


def instruction(ctx: Context) -> Instruction | None:
    """The instruction at the crashed thread's pc (an observation: stored for re-runs)."""
    data = ctx.observe("instruction", lambda: _compute_instruction(ctx))
    if not isinstance(data, dict):
        return None
    try:
        ops = [Operand(**op) for op in data.get("memory", [])]
        return Instruction(**{**data, "memory": ops})
    except TypeError:
        return None


def instruction_facts(insn: Instruction | None, op: Operand | None, regs: dict[str, int]) -> dict:
    """The instruction text and, when known, the register(s) that formed the faulting address."""
    if insn is None:
        return {}
    facts: dict[str, Any] = {"instruction": insn.text, "instruction_address": hexa(insn.address)}
    if op is not None:
        for role in ("base", "index"):
            reg = getattr(op, role)
            if reg and reg != "rip":
                facts[f"{role}_register"] = reg
                facts[f"{role}_value"] = hexa(regs.get(reg))
    return facts
