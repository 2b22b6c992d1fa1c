"""Classifiers for memory faults: where the pc is, the stack, NULL, any other bad pointer, and
which access faulted (from the decoded instruction)."""

from __future__ import annotations

from collections import Counter

from coresnap.analysis.calls import branch_at, branch_target, canonical
from coresnap.analysis.context import NULL_PAGE_LIMIT, Context, Mapping
from coresnap.analysis.disasm import MODES, access_kind, arch_mode, faulting_operand
from coresnap.analysis.evidence import (
    SIGBUS,
    SIGSEGV,
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

# Linux keeps stack_guard_gap (256 pages) free below a growing stack; a fault a little further
# down is still the stack running into it (the access may be a large frame's first touch).
STACK_GUARD_GAP = 256 * 4096
STACK_REACH = 64 * 1024  # how far below sp an access may land (a big local array)
SI_KERNEL = 0x80


class InferredFault(Rule):
    """A SIGSEGV/SIGBUS without siginfo (old cores, NetBSD's SI_NOINFO): the fault address is
    computed from the faulting instruction's operands, so the verdict is indirect (0.7)."""

    name = "inferred-fault"

    def predicate(self, ctx: Context, verdict: Verdict) -> bool:
        no_info = ctx.si_code is None or ctx.signal.get("code_name") == "SI_NOINFO"
        return ctx.signo in (SIGSEGV, SIGBUS) and no_info and ctx.pc is not None

    def action(self, ctx: Context, verdict: Verdict) -> None:
        pc = ctx.pc
        assert pc is not None
        how = "computed from the instruction: the core has no siginfo"
        if ctx.mappings() and ctx.mapping_at(pc) is None:
            verdict.add("bad-jump", {"pc": hexa(pc), "reason": "the pc is in no mapping"}, 0.7)
            return
        insn = instruction(ctx)
        addresses = [
            (op, op.address) for op in (insn.memory if insn else []) if op.address is not None
        ]
        bad = [(op, a) for op, a in addresses if a < NULL_PAGE_LIMIT or not ctx.mapping_at(a)]
        if insn is None or not bad:
            verdict.notes.append("inferred-fault: unknown: no operand of the instruction is bad")
            return
        op, address = bad[0]
        facts = {**signal_facts(ctx), **instruction_facts(insn, op, ctx.registers)}
        facts.update(address=hexa(address), address_source=how)
        label = "null-deref" if address < NULL_PAGE_LIMIT else "invalid-pointer"
        verdict.add(label, facts, 0.7)
        kind = "memory.write" if op.writes and not op.reads else "memory.read"
        verdict.add(kind, {"instruction": insn.text, "reason": f"{op.text}: {how}"}, 0.7)


class ExecFault(Rule):
    """The pc itself is bad: outside any mapping (bad-jump) or in memory that is not
    executable (exec-nonexec; writable code is how injected code runs, hence security). A call
    or jmp to a non-canonical address faults on the branch itself (a general protection fault,
    SI_KERNEL, at the branch): a bad jump too, with the target it was going to."""

    name = "exec"

    def predicate(self, ctx: Context, verdict: Verdict) -> bool:
        pc = ctx.pc
        if not kernel_fault(ctx, SIGSEGV) or pc is None:
            return False
        if ctx.si_code == SI_KERNEL:
            return bool(ctx.observe("branch_target", lambda: _noncanonical_branch(ctx)))
        if ctx.fault_address is not None:
            # An instruction fetch faults at the pc itself; a pc outside the (partial) memory
            # map of a core without file notes is not a jump when the fault is elsewhere.
            return ctx.fault_address == pc
        if not any(m.executable for m in ctx.mappings()):
            verdict.notes.append("exec: unknown: no executable mapping is known to place the pc")
            return False
        m = ctx.mapping_at(pc)
        return m is None or not m.executable

    def action(self, ctx: Context, verdict: Verdict) -> None:
        pc = ctx.pc
        assert pc is not None
        facts = {**signal_facts(ctx), "pc": hexa(pc)}
        branch = ctx.observe("branch_target", lambda: None) if ctx.si_code == SI_KERNEL else None
        if branch:
            facts.update(branch)
            facts["reason"] = "the branch target is non-canonical: the branch itself faulted"
            verdict.add("bad-jump", facts)
            verdict.add("memory.exec", {"reason": f"`{branch['instruction']}` faulted"})
            return
        caller = ctx.observe("caller", lambda: _caller(ctx))
        if caller:
            facts["caller"] = caller
        m = ctx.mapping_at(pc)
        if m is None:
            facts["pc_mapping"] = None
            if pc < NULL_PAGE_LIMIT:
                verdict.add("null-deref", {**facts, "reason": "call through a NULL pointer"})
            verdict.add("bad-jump", {**facts, "reason": "the pc is in no mapping"})
        else:
            facts["pc_mapping"] = {"start": hexa(m.start), "perms": m.perms, "path": m.path}
            verdict.add("exec-nonexec", {**facts, "reason": "the pc is in non-executable memory"})
            if m.writable:
                verdict.add("security", {**facts, "reason": "executing writable memory"})
        verdict.add("memory.exec", {"reason": "instruction fetch from the pc faulted"})


def _noncanonical_branch(ctx: Context) -> dict[str, str] | None:
    """The indirect call/jmp at the pc and its non-canonical target, or None."""
    if arch_mode(ctx.registers) != MODES["rip"] or ctx.pc is None:
        return None
    branch = branch_at(ctx, ctx.pc)
    target = branch_target(ctx, branch) if branch else None
    if branch is None or target is None or canonical(target):
        return None
    return {"instruction": branch.text, "target": f"{target:#x}"}


def _caller(ctx: Context) -> dict[str, object] | None:
    """The return address a call pushed before jumping to the bad pc, and where it points."""
    ret = ctx.word(ctx.sp) if ctx.sp is not None else None
    if ret is None:
        return None
    where = ctx.describe_address(ret - 1)  # - 1: the call instruction, not the next one
    m = ctx.mapping_at(ret)
    if m is None or not m.executable:
        return None
    return {"return_address": hexa(ret), **where}


class StackOverflow(Rule):
    """The fault address is just below a stack (in the guard gap or a thread's guard mapping)
    and close to sp: the stack ran out, typically through unbounded recursion."""

    name = "stack-overflow"

    def predicate(self, ctx: Context, verdict: Verdict) -> bool:
        fault, sp = ctx.fault_address, ctx.sp
        if not kernel_fault(ctx, SIGSEGV) or fault is None or sp is None:
            return False
        if verdict.has("bad-jump", "exec-nonexec"):
            return False
        return abs(sp - fault) <= STACK_REACH and self._stack_above(ctx, fault) is not None

    @staticmethod
    def _stack_above(ctx: Context, fault: int) -> Mapping | None:
        hit = ctx.mapping_at(fault)
        if hit is not None and hit.perms not in ("---", "---p"):
            return None
        above = [m for m in ctx.mappings() if m.start > fault and m.writable]
        if not above:
            return None
        stack = above[0]
        return stack if stack.start - fault <= STACK_GUARD_GAP + STACK_REACH else None

    def action(self, ctx: Context, verdict: Verdict) -> None:
        fault, sp = ctx.fault_address, ctx.sp
        assert fault is not None and sp is not None
        stack = self._stack_above(ctx, fault)
        assert stack is not None  # the predicate found it
        names = Counter(ctx.function_names())
        facts = {
            **signal_facts(ctx),
            "sp": hexa(sp),
            "stack_mapping": {"start": hexa(stack.start), "end": hexa(stack.end)},
            "below_stack_by": stack.start - fault,
            "guard": "guard mapping" if ctx.mapping_at(fault) else "stack guard gap",
        }
        if names:
            func, count = names.most_common(1)[0]
            facts["most_repeated_frame"] = {"function": func, "count": count}
        verdict.add("stack-overflow", facts)


class NullDeref(Rule):
    """A data access below 64 KiB, where nothing is ever mapped: a NULL base plus an offset."""

    name = "null-deref"

    def predicate(self, ctx: Context, verdict: Verdict) -> bool:
        fault = ctx.fault_address
        return (
            kernel_fault(ctx, SIGSEGV)
            and ctx.si_code != SI_KERNEL
            and fault is not None
            and fault < NULL_PAGE_LIMIT
            and not verdict.fault_labels()
        )

    def action(self, ctx: Context, verdict: Verdict) -> None:
        insn = instruction(ctx)
        op = faulting_operand(insn, ctx.fault_address) if insn else None
        facts = {**signal_facts(ctx), **instruction_facts(insn, op, ctx.registers)}
        base = ctx.registers.get(op.base) if op and op.base else None
        confident = base == 0 or (ctx.fault_address or 0) < 4096
        if base == 0 and op is not None:
            facts["reason"] = f"{op.base} is NULL; the access is at offset {op.disp:#x}"
        verdict.add("null-deref", facts, 1.0 if confident else 0.8)


class InvalidPointer(Rule):
    """Any other data fault: a non-NULL pointer into no mapping, into memory the access is not
    allowed on (SEGV_ACCERR), or non-canonical (a general protection fault, SI_KERNEL)."""

    name = "invalid-pointer"

    def predicate(self, ctx: Context, verdict: Verdict) -> bool:
        segv = kernel_fault(ctx, SIGSEGV) or (ctx.signo == SIGSEGV and ctx.si_code == SI_KERNEL)
        return segv and not verdict.fault_labels()

    def action(self, ctx: Context, verdict: Verdict) -> None:
        insn = instruction(ctx)
        op = faulting_operand(insn, ctx.fault_address) if insn else None
        facts = {**signal_facts(ctx), **instruction_facts(insn, op, ctx.registers)}
        if ctx.si_code == SI_KERNEL:
            facts["reason"] = "general protection fault: the kernel reports no address"
            if op is not None and op.address is not None:
                facts["computed_address"] = hexa(op.address)
        elif ctx.fault_address is not None:
            m = ctx.mapping_at(ctx.fault_address)
            facts["mapping"] = {"perms": m.perms, "path": m.path} if m else None
        verdict.add("invalid-pointer", facts, 1.0 if insn else 0.8)


class AccessKind(Rule):
    """Whether the faulting access read or wrote memory, from the decoded instruction."""

    name = "access-kind"

    def predicate(self, ctx: Context, verdict: Verdict) -> bool:
        return (
            kernel_fault(ctx, SIGSEGV, SIGBUS)
            or (ctx.signo == SIGSEGV and ctx.si_code == SI_KERNEL)
        ) and not verdict.has("memory.exec", "machine-check")

    def action(self, ctx: Context, verdict: Verdict) -> None:
        insn = instruction(ctx)
        if insn is None:
            why = "unavailable" if arch_mode(ctx.registers) else "not decoded on this architecture"
            verdict.notes.append(f"access-kind: unknown: the instruction at the pc is {why}")
            return
        code = ctx.signal.get("code_name")
        kind, why = access_kind(insn, ctx.fault_address, ctx.pc, code)
        if kind is None:
            verdict.notes.append(f"access-kind: unknown: {why}")
            return
        verdict.add(kind, {"instruction": insn.text, "reason": why})
