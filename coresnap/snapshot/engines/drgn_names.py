"""Settle the frames of one physical frame (its inline frames, then itself) the way gdb shows
them, where drgn 0.3.0 falls short:

- inline C++ frames get gdb's qualified name: the demangled linkage name of the function
  (``shop::Catalog<int>::total``), or, for functions GCC gives none (those of local types:
  lambdas, their ``std::function`` handlers), the name built from the DIE's scopes
  (``std::_Function_handler<int(), main(int, char**)::<lambda()> >::_M_invoke``). A physical
  frame of such a function takes that name too, so a function is named the same inlined
  (-O2) or not (-O0);
- Rust frames, which drgn does not name from DWARF and whose inlined calls it does not list,
  get both from the unit's DIEs (gdb's names: ``main::parse::header`` inlined into
  ``main::main``), else their demangled symbol;
- a signal trampoline is ``<signal handler called>`` (``signal_frame: true``);
- every frame gets ``function_start`` (module offset of its function's first instruction:
  the symbol's, else the ``.eh_frame`` FDE's, which a stripped binary keeps), and a frame
  without a symbol its ``function_offset`` from that start.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import drgn

from coresnap.analysis.demangle import is_rust_symbol, last_component
from coresnap.snapshot.engines.drgn_dwarf import DwarfReader
from coresnap.snapshot.engines.drgn_signal import SIGNAL_FRAME

if TYPE_CHECKING:
    from coresnap.unwind.debuginfo import Scope

# Marks a frame name as "linkage name + DWARF name" until FrameWalker.finish() settles it.
LINKAGE = "\x00"
Group = list[tuple[drgn.StackFrame, dict[str, Any]]]


def linkage_marked(mangled: str, plain: str) -> str:
    """A frame name that :meth:`FrameWalker.finish` replaces by the demangled ``mangled``."""
    return f"{LINKAGE}{mangled}{LINKAGE}{plain}"


class FrameNamer:
    """Names and function starts for the frame groups of one program."""

    def __init__(self, prog: drgn.Program, warnings: list[str]) -> None:
        self.prog = prog
        self.dwarf = DwarfReader(warnings)
        self.linkage_names: list[str] = []
        try:
            self._cxx_main = prog.language == drgn.Language.CPP
        except (ValueError, LookupError):
            self._cxx_main = False

    def settle(
        self, group: Group, module: drgn.Module | None, start: int, sym: drgn.Symbol | None
    ) -> list[dict[str, Any]]:
        """The records of ``group`` (inline frames first, the physical frame last), renamed,
        with inline frames added for Rust; ``start`` is the module's first address."""
        frame, record = group[-1]
        lookup = record["pc"] if frame.interrupted else record["pc"] - 1
        records = [r for _, r in group]
        if module is not None:
            if frame.function_name is None and sym is not None and is_rust_symbol(sym.name):
                records = self._rust(records, self.dwarf.chain(module, lookup), sym) or records
            elif self._wants_cxx_names(group, module, sym):
                self._cxx(group, self.dwarf.chain(module, lookup))
        first = sym.address if sym is not None else None
        if first is None and module is not None:
            first = self.dwarf.fde_start(module, lookup)
            if first is not None:
                record["function_offset"] = record["pc"] - first
        for r in records:
            r["function_start"] = first - start if first is not None else None
        return records

    def signal_frame(self, record: dict[str, Any], module: drgn.Module | None, start: int) -> None:
        """Name ``record`` as gdb names a signal trampoline; its pc is no return address, so its
        function is looked up at the pc itself."""
        record.update(function=SIGNAL_FRAME, function_offset=None, variables=[])
        record["signal_frame"] = True
        first: int | None = None
        try:
            first = self.prog.symbol(record["pc"]).address
        except LookupError:
            if module is not None:
                first = self.dwarf.fde_start(module, record["pc"])
        record["function_start"] = first - start if first is not None else None
        if first is not None:
            record["function_offset"] = record["pc"] - first

    def _wants_cxx_names(self, group: Group, module: drgn.Module, sym: drgn.Symbol | None) -> bool:
        mangled = sym is not None and sym.name.startswith("_Z")
        if len(group) > 1:
            main = self._cxx_main and isinstance(module, drgn.MainModule)
            return mangled or main
        # A Z past the prefix is Itanium's <local-name> ("Z <function> E <entity>"): a lambda
        # or a local class, which GCC gives no DW_AT_linkage_name (identifiers may hold a Z
        # too: that only costs a lookup).
        return mangled and sym is not None and "Z" in sym.name[2:]

    def _cxx(self, group: Group, chain: list[Scope]) -> None:
        from coresnap.unwind.names import canonical  # chain() imported the package already

        if len(chain) != len(group):
            return
        pairs = list(zip(reversed(chain), group, strict=True))
        # drgn has no name for functions nested in a function's scope (a lambda's operator()
        # at -O0 lives in its closure type, inside main): there, any name agrees.
        named = [(scope, frame) for scope, (frame, _) in pairs if frame.function_name]
        if any(_short(scope) != canonical(frame.function_name) for scope, frame in named):
            return  # drgn and the index disagree on the chain: keep drgn's names
        for scope, (frame, record) in pairs:
            if scope.linkage_name is not None:
                if frame.is_inline:
                    self.linkage_names.append(scope.linkage_name)
                    record["function"] = linkage_marked(scope.linkage_name, scope.name or "")
            elif scope.name:
                record["function"] = scope.name

    def _rust(
        self, records: list[dict[str, Any]], chain: list[Scope], sym: drgn.Symbol
    ) -> list[dict[str, Any]]:
        physical = records[-1]
        if not chain or chain[0].name is None:
            self.linkage_names.append(sym.name)
            physical["function"] = linkage_marked(sym.name, sym.name)
            return records
        out = []
        where = (physical["file"], physical["line"], physical["column"])
        for scope in reversed(chain[1:]):
            inline = {**physical, "function": scope.name, "function_offset": None}
            inline.update(inline=True, variables=[], file=where[0], line=where[1], column=where[2])
            out.append(inline)
            call = scope.call_site
            where = (call.file, call.line, call.column) if call is not None else (None,) * 3
        physical.update(function=chain[0].name, file=where[0], line=where[1], column=where[2])
        return [*out, physical]


def _short(scope: Scope) -> str | None:
    """The DWARF name drgn reports for ``scope``'s function (its last component)."""
    return last_component(scope.name) if scope.name else None
