"""Name a physical frame: module, function (DWARF, else ELF symbols), source line, and the
inlined calls at that address as extra frames, innermost first (gdb's order).

Every frame gets its function's start (``function_start``, a module offset): the symbol's,
else the start of the FDE covering the pc, which a stripped binary keeps in ``.eh_frame``;
a frame without a symbol takes its ``function_offset`` from it. A signal trampoline is named
as gdb names it.
"""

from __future__ import annotations

from coresnap.unwind.arch import Arch
from coresnap.unwind.debuginfo import Scope, SourceLine
from coresnap.unwind.frames import FrameState, UnwoundFrame
from coresnap.unwind.modules import LoadedModule

SIGNAL_FRAME = "<signal handler called>"  # gdb's name for a SIGTRAMP_FRAME


def symbolize(
    state: FrameState, loaded: LoadedModule | None, arch: Arch, notes: list[str]
) -> list[UnwoundFrame]:
    """The frames (one, or more with inlined calls) for the physical frame ``state``.

    Malformed debug info costs the frame its DWARF names and lines (noted), not the walk.
    """
    registers = {arch.dwarf_names[n]: v for n, v in state.regs.items() if n in arch.dwarf_names}
    registers[arch.pc] = state.pc
    base = UnwoundFrame(
        pc=state.pc,
        cfa=state.cfa,
        module=None,
        module_offset=None,
        build_id=None,
        function=None,
        function_offset=None,
        file=None,
        line=None,
        column=None,
        inline=False,
        trusted=state.trusted,
        registers=registers,
        how=state.how,
    )
    if loaded is None:
        return [base]
    module = loaded.module
    base.module = module.path
    base.module_offset = state.pc - module.start
    base.build_id = module.build_id or (loaded.obj.build_id if loaded.obj else None)
    if loaded.obj is None:
        return [base]
    # A caller's pc is a return address: the call itself is the byte before (gdb's rule).
    link = (state.pc if state.exact_pc else state.pc - 1) - loaded.bias
    link_pc = state.pc - loaded.bias
    symbol = loaded.obj.symbols.lookup(link)
    start = symbol[0].start if symbol is not None else _fde_start(loaded, link, notes)
    if symbol is not None:
        base.function = symbol[0].name
    if start is not None:
        base.function_start = start + loaded.bias - module.start
        base.function_offset = link_pc - start
    if state.trampoline is not None:
        base.function, base.signal_frame = SIGNAL_FRAME, True
        return [base]
    debug = loaded.obj.debug
    if debug is None:
        return [base]
    try:
        scopes = debug.scopes(link)
        line = debug.line(link)
    except Exception as exc:  # pyelftools raises many types on malformed DWARF
        notes.append(f"{module.path}: debug info at {link:#x}: {type(exc).__name__}: {exc}")
        return [base]
    return _with_inlines(base, scopes, line, link_pc)


def _with_inlines(
    base: UnwoundFrame, scopes: list[Scope], line: SourceLine | None, link_pc: int
) -> list[UnwoundFrame]:
    """One frame per scope, innermost first; each outer scope is at its inner call site."""
    if not scopes:
        _set_line(base, line)
        return [base]
    frames: list[UnwoundFrame] = []
    where = line
    for scope in reversed(scopes):
        frame = UnwoundFrame(**{**base.__dict__, "registers": dict(base.registers)})
        frame.inline = scope.inlined
        frame.linkage_name = scope.linkage_name
        if scope.name:
            frame.function = scope.name
            frame.function_offset = link_pc - scope.start if scope.inlined else base.function_offset
            if not scope.inlined and base.function_start is None:
                frame.function_offset = link_pc - scope.start
        _set_line(frame, where)
        where = scope.call_site
        frames.append(frame)
    return frames


def _fde_start(loaded: LoadedModule, link: int, notes: list[str]) -> int | None:
    """Link-time start of the FDE holding ``link`` (the function's first instruction)."""
    assert loaded.obj is not None
    try:
        entry = loaded.obj.find_frame(link)
    except Exception as exc:  # malformed CFI that pyelftools let through
        notes.append(f"{loaded.module.path}: call frame info at {link:#x}: {exc}")
        return None
    return entry.start if entry is not None else None


def _set_line(frame: UnwoundFrame, line: SourceLine | None) -> None:
    if line is not None:
        frame.file, frame.line, frame.column = line.file, line.line, line.column
