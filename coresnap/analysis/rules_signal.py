"""Classifiers for what the signal itself says: who sent it, and the hardware's own reports
(machine checks, bus errors, division, illegal instructions, breakpoints)."""

from __future__ import annotations

from coresnap.analysis.context import Context
from coresnap.analysis.evidence import (
    SI_QUEUE,
    SI_TKILL,
    SI_USER,
    SIGABRT,
    SIGBUS,
    SIGFPE,
    SIGILL,
    SIGTRAP,
    Verdict,
)
from coresnap.analysis.rules import (
    Rule,
    hexa,
    instruction,
    instruction_facts,
    kernel_fault,
    signal_facts,
)


class Killed(Rule):
    """A signal sent by another process (kill/sigqueue/tgkill from a different pid) is no fault
    of the code: say who sent it instead of reading the registers as a crash."""

    name = "killed"

    def predicate(self, ctx: Context, verdict: Verdict) -> bool:
        sender = ctx.signal.get("sender_pid")
        return ctx.si_code in (SI_USER, SI_QUEUE, SI_TKILL) and isinstance(sender, int)

    def action(self, ctx: Context, verdict: Verdict) -> None:
        sender = ctx.signal.get("sender_pid")
        if ctx.pid is None:
            verdict.notes.append("killed: the process id is unknown, cannot tell self from other")
        elif sender != ctx.pid:
            facts = {**signal_facts(ctx), "sender_pid": sender}
            facts["sender_uid"] = ctx.signal.get("sender_uid")
            verdict.add("killed", facts)


class Raised(Rule):
    """A fatal signal the process sent itself (raise, pthread_kill, kill(getpid())) other than
    SIGABRT: deliberate, like abort(), and not a fault of the instruction at the pc."""

    name = "raised"

    def predicate(self, ctx: Context, verdict: Verdict) -> bool:
        sender = ctx.signal.get("sender_pid")
        own = ctx.pid is not None and sender == ctx.pid
        return own and ctx.si_code in (SI_USER, SI_QUEUE, SI_TKILL) and ctx.signo != SIGABRT

    def action(self, ctx: Context, verdict: Verdict) -> None:
        verdict.add("raised", {**signal_facts(ctx), "sender_pid": ctx.signal.get("sender_pid")})


class MachineCheck(Rule):
    """SIGBUS with BUS_MCEERR_AR/AO: the hardware reported an uncorrectable memory error."""

    name = "machine-check"

    def predicate(self, ctx: Context, verdict: Verdict) -> bool:
        return kernel_fault(ctx, SIGBUS) and ctx.si_code in (4, 5)

    def action(self, ctx: Context, verdict: Verdict) -> None:
        verdict.add("machine-check", signal_facts(ctx))


class BusError(Rule):
    """SIGBUS (misaligned access, or a file mapping touched past the file's end)."""

    name = "bus-error"

    def predicate(self, ctx: Context, verdict: Verdict) -> bool:
        return kernel_fault(ctx, SIGBUS) and ctx.si_code in (1, 2, 3)

    def action(self, ctx: Context, verdict: Verdict) -> None:
        facts = signal_facts(ctx)
        m = ctx.mapping_at(ctx.fault_address) if ctx.fault_address is not None else None
        if m is not None:
            facts["mapping"] = {"start": hexa(m.start), "perms": m.perms, "path": m.path}
            if m.path and ctx.si_code == 2:
                offset = m.offset + ctx.fault_address - m.start  # type: ignore[operator]
                facts["file_offset"] = hexa(offset)
                facts["reason"] = "access past the end of the mapped file"
        verdict.add("bus-error", facts)


class DivByZero(Rule):
    """SIGFPE FPE_INTDIV: an integer division by zero (x86 #DE)."""

    name = "div-by-zero"

    def predicate(self, ctx: Context, verdict: Verdict) -> bool:
        return kernel_fault(ctx, SIGFPE) and ctx.si_code == 1

    def action(self, ctx: Context, verdict: Verdict) -> None:
        facts = {**signal_facts(ctx), **instruction_facts(instruction(ctx), None, {})}
        verdict.add("div-by-zero", facts)


class IllegalInstruction(Rule):
    """SIGILL from the kernel: an undefined opcode (ud2 from __builtin_trap) or a bad operand."""

    name = "illegal-instruction"

    def predicate(self, ctx: Context, verdict: Verdict) -> bool:
        return kernel_fault(ctx, SIGILL)

    def action(self, ctx: Context, verdict: Verdict) -> None:
        facts = {**signal_facts(ctx), **instruction_facts(instruction(ctx), None, {})}
        verdict.add("illegal-instruction", facts)


class Breakpoint(Rule):
    """SIGTRAP from the kernel: a compiled-in breakpoint (int3) or a trap flag with no debugger
    attached to catch it."""

    name = "breakpoint"

    def predicate(self, ctx: Context, verdict: Verdict) -> bool:
        code = ctx.si_code
        return ctx.signo == SIGTRAP and code is not None and code > 0

    def action(self, ctx: Context, verdict: Verdict) -> None:
        facts = signal_facts(ctx)
        pc = ctx.pc
        # int3 traps after itself: the pc is one byte past the 0xcc (Intel SDM vol. 2, INT3).
        if pc is not None and ctx.observe("int3_before_pc", lambda: ctx.read(pc - 1, 1) == b"\xcc"):
            facts["instruction"], facts["instruction_address"] = "int3", hexa(pc - 1)
        verdict.add("breakpoint", facts)
