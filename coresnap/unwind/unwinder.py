"""The unwinding loop: a thread's registers in, its frames out (innermost first).

For each physical frame: find the module of the pc, look up the FDE for the pc (pc - 1 for
callers, whose pc is a return address: the call is the instruction before it, as gdb does),
apply the row to get the caller's registers. Without CFI, fall back to the frame-pointer
chain (frames marked ``trusted=False``). Every frame is named from DWARF (with its inlined
calls as extra frames) or, failing that, from the ELF symbol tables.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Literal

from coresnap.corefile.model import Thread
from coresnap.errors import CoresnapError, UnwindStepFailed
from coresnap.unwind.arch import Arch, arch_for
from coresnap.unwind.frames import (
    STOP_BAD_RULE,
    STOP_CFA_NOT_INCREASING,
    STOP_MAX_FRAMES,
    STOP_NO_UNWIND_INFO,
    STOP_NOT_CODE,
    STOP_OUTERMOST,
    STOP_PC_ZERO,
    STOP_UNSUPPORTED_ARCH,
    Backtrace,
    CoreLike,
    FrameState,
    UnwoundFrame,
)
from coresnap.unwind.goswitch import SWITCH, goroutine_resume
from coresnap.unwind.modules import FileResolver, LoadedModule, ModuleMap
from coresnap.unwind.rules import row_at
from coresnap.unwind.sigframe import step_sigreturn, trampoline_at
from coresnap.unwind.step import (
    step_cfi,
    step_frame_pointer,
    step_return_address,
    word_reader,
)
from coresnap.unwind.symbolize import symbolize
from coresnap.unwind.tailcall import tail_call_chain

# What Go's signal handler makes a faulting goroutine call (runtime/signal_amd64.go).
GO_SIGPANIC = "runtime.sigpanic"
# Entry points whose caller is nobody: stop there even when the CFI does not say so.
# Only consulted when the frame has no CFI (the CFI of glibc's _start and clone3 already
# marks the return address undefined).
OUTERMOST_FUNCTIONS = frozenset({"_start", "__start", "___start"})


def unwind_thread(
    core: CoreLike,
    thread: Thread,
    *,
    max_frames: int = 256,
    file_resolver: FileResolver | None = None,
) -> Backtrace:
    """Unwind one thread of ``core``; return its frames with ``stop_reason`` and ``notes``.

    ``file_resolver(path, build_id) -> path | None`` redirects where a module's file is read
    (a sysroot, a symbol store); by default the path in the core is used. Never raises for
    a bad stack: the reason unwinding stopped is in ``Backtrace.stop_reason``.
    """
    result = Backtrace()
    arch = arch_for(core.ident.arch)
    if arch is None:
        result.stop_reason = f"{STOP_UNSUPPORTED_ARCH}: {core.ident.arch}"
        return result
    walk = _Walk(core, arch, ModuleMap(core, file_resolver, result.notes), result, max_frames)
    state: FrameState | None = _initial_state(thread, arch)
    while state is not None:
        state = walk.turn(state)
    return result


class _Walk:
    """One thread's walk: each :meth:`turn` names a physical frame and finds its caller."""

    def __init__(
        self, core: CoreLike, arch: Arch, modules: ModuleMap, result: Backtrace, max_frames: int
    ) -> None:
        self.arch = arch
        self.modules = modules
        self.result = result
        self.max_frames = max_frames
        self.read = word_reader(core.memory, arch, core.ident.byteorder)
        self.memory = core.memory
        self.physical = 0
        self.segment: FrameState | None = None  # the first frame of the registers in force
        # Executable mappings ("???": a core that does not say), to tell code from garbage.
        self.code = [
            (m.start, m.end)
            for m in getattr(core, "mappings", [])
            if "x" in m.perms or "?" in m.perms
        ]

    def stop(self, reason: str) -> FrameState | None:
        """Record why the walk ends; returns None, the caller there is not."""
        self.result.stop_reason = reason
        return None

    def add(self, frames: list[UnwoundFrame]) -> None:
        self.result.extend(frames[: self.max_frames - len(self.result)])

    def turn(self, state: FrameState) -> FrameState | None:
        """Record ``state``'s frames; return its caller, or None after setting the reason."""
        if len(self.result) >= self.max_frames:
            return self.stop(STOP_MAX_FRAMES)
        if state.pc == 0 and self.physical > 0:
            return self.stop(STOP_PC_ZERO)
        # A return address may point one past its module's end (a noreturn call last in it).
        loaded = self.modules.find(state.pc if state.exact_pc else state.pc - 1)
        garbage = self.physical > 0 and bool(self.code)
        garbage = garbage and not any(lo <= state.pc < hi for lo, hi in self.code)
        if (loaded is None and self.physical > 0) or garbage:
            state.trusted = False  # a return address outside every module: the stack is garbage
        state.trampoline = _trampoline_kind(state, loaded, self.arch, self.read)
        if state.trampoline is not None:
            state.exact_pc = True  # nobody called a signal trampoline: its pc is no return address
        frames = symbolize(state, loaded, self.arch, self.result.notes)
        if garbage:  # no function is there: a data symbol's name would mislead
            frames = [_unnamed(frames[-1])]
        self.add(frames)
        self.physical += 1
        if garbage:  # what lies past it would be guesses from garbage (gdb stops too)
            return self.stop(f"{STOP_NOT_CODE}: {state.pc:#x}")
        if self.segment is None or state.how == "signal":
            self.segment = state
        if frames[-1].function == SWITCH and loaded is not None:
            resumed = self.goroutine(state, loaded)
            if resumed is not None:
                self.segment = resumed
                return resumed
        caller = self.caller(state, loaded, frames[-1].function)
        if caller is not None and frames[-1].function == GO_SIGPANIC:
            # Go's signal handler pushed the faulting pc as sigpanic's return address: the
            # caller's pc is the faulting instruction itself (Go's traceback does not back it
            # up either), so its inline frames are those at the pc, not one byte before.
            caller.exact_pc = True
        if caller is not None:
            self.add(
                _tail_call_frames(state, caller, loaded, self.modules, self.arch, self.result.notes)
            )
        return caller

    def goroutine(self, state: FrameState, loaded: LoadedModule) -> FrameState | None:
        """The goroutine that switched to the system stack (``coresnap.unwind.goswitch``):
        its state where it called ``runtime.systemstack``, a guess (found by a search)."""
        if self.arch.name != "x86_64" or self.segment is None or loaded.obj is None:
            return None
        # System V AMD64 psABI DWARF numbers: 7 rsp, 6 rbp, 16 the return address (rip).
        symbol = loaded.obj.symbols.lookup(state.pc - loaded.bias)
        bp = self.segment.regs.get(6)
        if symbol is None or bp is None:
            return None
        start = symbol[0].start + loaded.bias
        bounds = (start, start + symbol[0].size)
        found = goroutine_resume(self.memory.read, bp, bounds, (CoresnapError,))
        if found is None:
            return None
        pc, sp, base = found
        regs = {16: pc, 7: sp, 6: base}
        return FrameState(pc=pc, regs=regs, cfa=sp, how="fp", trusted=False, exact_pc=False)

    def caller(
        self, state: FrameState, loaded: LoadedModule | None, function: str | None
    ) -> FrameState | None:
        """Step to the caller and check it is plausible; None (with a reason) if not."""
        entry_point = function in OUTERMOST_FUNCTIONS
        try:
            caller = _step(state, loaded, self.arch, self.read, self.physical == 1)
        except UnwindStepFailed as exc:
            return self.stop(f"{STOP_OUTERMOST}: {function}" if entry_point else exc.stop)
        except Exception as exc:  # malformed CFI that pyelftools let through: stop, say why
            return self.stop(f"{STOP_BAD_RULE}: {type(exc).__name__}: {exc}")
        if caller is None:
            return self.stop(STOP_OUTERMOST)
        if entry_point and (caller.how == "fp" or self.modules.find(caller.pc) is None):
            return self.stop(f"{STOP_OUTERMOST}: {function}")
        if not _moved_up(state, caller, self.arch):
            return self.stop(f"{STOP_CFA_NOT_INCREASING}: at pc {caller.pc:#x}")
        return caller


def _initial_state(thread: Thread, arch: Arch) -> FrameState:
    regs = {
        n: thread.registers[name]
        for n, name in arch.dwarf_names.items()
        if name in thread.registers
    }
    pc = thread.pc if thread.pc is not None else thread.registers.get(arch.pc, 0)
    sp_n = arch.dwarf_number(arch.sp)
    if thread.sp is not None and sp_n is not None:
        regs.setdefault(sp_n, thread.sp)
    pc_n = arch.dwarf_number(arch.pc)
    if pc_n is not None:
        regs[pc_n] = pc
    return FrameState(pc=pc, regs=regs)


def _step(
    state: FrameState,
    loaded: LoadedModule | None,
    arch: Arch,
    read: Callable[[int, int], int],
    top: bool,
) -> FrameState | None:
    """The caller of ``state``: by CFI when the module has an FDE for the pc, else guessed."""
    obj = loaded.obj if loaded is not None else None
    if state.trampoline == "code":
        tramp = trampoline_at(state, arch, read)
        if tramp is not None:
            return step_sigreturn(state, tramp, arch, read)
    if obj is not None and loaded is not None:
        lookup = state.pc if state.exact_pc else state.pc - 1
        entry = obj.find_frame(lookup - loaded.bias)
        if entry is not None:
            row = row_at(entry, lookup - loaded.bias)
            return step_cfi(state, row, arch, read)
    tramp = trampoline_at(state, arch, read)
    if tramp is not None and not top:
        return step_sigreturn(state, tramp, arch, read)
    if top and (loaded is None or state.pc == 0):
        return step_return_address(state, arch, read)
    if loaded is None and not top:
        raise UnwindStepFailed(f"{STOP_NO_UNWIND_INFO}: pc {state.pc:#x} is in no module")
    return step_frame_pointer(state, arch, read)


def _tail_call_frames(
    callee: FrameState,
    caller: FrameState,
    loaded: LoadedModule | None,
    modules: ModuleMap,
    arch: Arch,
    notes: list[str],
) -> list[UnwoundFrame]:
    """Virtual frames of functions between ``caller`` and ``callee`` that tail-called."""
    if caller.how != "cfi" or loaded is None or loaded.obj is None or loaded.obj.debug is None:
        return []
    if modules.find(caller.pc) is not loaded:
        return []
    lookup = callee.pc if callee.exact_pc else callee.pc - 1
    found = loaded.obj.debug.function_at(lookup - loaded.bias)
    if found is None:
        return []
    low_pc = found[1].attributes.get("DW_AT_low_pc")
    start = int(low_pc.value) if low_pc is not None else found[0]
    frames = []
    try:
        chain = tail_call_chain(loaded.obj, caller.pc - loaded.bias, start)
    except Exception as exc:  # pyelftools raises many types on malformed DWARF
        notes.append(f"{loaded.module.path}: call sites: {type(exc).__name__}: {exc}")
        return []
    for link in chain:
        virtual = FrameState(pc=link + loaded.bias, regs={}, how="cfi", exact_pc=False)
        frame = symbolize(virtual, loaded, arch, notes)[0]  # gdb names it by the innermost scope
        frame.cfa, frame.tail_call = None, True
        frames.append(frame)
    return frames


def _trampoline_kind(
    state: FrameState, loaded: LoadedModule | None, arch: Arch, read: Callable[[int, int], int]
) -> Literal["cfi", "code"] | None:
    """``cfi`` when the FDE before this return address is a signal frame's (``S``
    augmentation), ``code`` when the code at it is the kernel's signal return trampoline
    (with no CFI, or CFI that does not say so: Go's), else None."""
    if state.exact_pc:
        return None
    if loaded is not None and loaded.obj is not None:
        entry = loaded.obj.find_frame(state.pc - 1 - loaded.bias)
        if entry is not None and entry.signal_frame:
            return "cfi"
    return "code" if trampoline_at(state, arch, read) is not None else None


def _unnamed(frame: UnwoundFrame) -> UnwoundFrame:
    return dataclasses.replace(
        frame, function=None, function_offset=None, function_start=None, inline=False,
        file=None, line=None, column=None, linkage_name=None,
    )  # fmt: skip


def _moved_up(callee: FrameState, caller: FrameState, arch: Arch) -> bool:
    """Stacks grow down on all three: a caller's frame lies above its callee's.

    A signal delivered on an alternate stack may jump anywhere, so signal frames are exempt,
    and so is the step out of the interrupted frame: its ``cfa`` is where the kernel saved its
    registers (on the signal stack: Go's gsignal), not its own frame's.
    """
    if "signal" in (caller.how, callee.how) or callee.cfa is None or caller.cfa is None:
        return True
    return caller.cfa > callee.cfa or (caller.cfa == callee.cfa and caller.pc != callee.pc)
