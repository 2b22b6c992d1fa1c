"""Turn drgn stack traces into snapshot frames and variables, under the snapshot's bounds.

:mod:`~coresnap.snapshot.engines.drgn_walk` walks a thread's trace; this module makes each
frame's record (module, function, line, variables) and settles names across all threads at
the end (C++ and Rust demangling in one batch, parameters by the final name).
"""

from __future__ import annotations

import bisect
from typing import Any

import drgn

from coresnap.analysis.demangle import (
    demangle_all,
    is_rust_symbol,
    last_component,
    without_clones,
)
from coresnap.snapshot.bounds import Bounds
from coresnap.snapshot.engines.drgn_names import LINKAGE, FrameNamer, linkage_marked
from coresnap.snapshot.engines.drgn_walk import CodeRanges, walk_frames
from coresnap.snapshot.variables import Renderer

_ERRORS = (LookupError, ValueError, drgn.FaultError, drgn.BadDataError)
Placed = tuple["drgn.Module | None", str | None, str | None, int]  # module, path, build id, start


class FrameWalker:
    """Walks threads of one program; keeps the variable budget and the cuts it made."""

    def __init__(
        self,
        prog: drgn.Program,
        bounds: Bounds,
        mappings: list[dict[str, Any]],
        warnings: list[str] | None = None,
    ) -> None:
        self.prog = prog
        self.bounds = bounds
        self.cuts: list[str] = []
        self.vars_left = bounds.max_total_vars
        self._maps = sorted(
            (m["start"], m["end"], m["path"] or m.get("label") or "anonymous") for m in mappings
        )
        self._starts = [m[0] for m in self._maps]
        self.code = CodeRanges(mappings)
        self._params: dict[str, frozenset[str]] = {}
        # Threads of one process mostly share their frames (64 workers waiting in the same
        # place): these depend only on addresses of this program, so they are looked up once.
        self._symbols: dict[tuple[int, bool], drgn.Symbol | None] = {}
        self._modules: dict[int, Placed] = {}
        self.tails: dict[tuple[int, int], list[dict[str, Any]]] = {}
        self.trampolines: dict[int, bool] = {}  # pc -> whether a signal trampoline's code is there
        self.namer = FrameNamer(prog, warnings if warnings is not None else [])
        self.renderer = Renderer(prog, bounds, self.describe)

    def describe(self, address: int) -> str | None:
        """What ``address`` points into: ``symbol+0x..``, a mapped file, or anonymous memory."""
        try:
            sym = self.prog.symbol(address)
            return f"{sym.name}+{address - sym.address:#x}"
        except LookupError:
            pass
        i = bisect.bisect_right(self._starts, address) - 1
        if i >= 0 and address < self._maps[i][1]:
            return self._maps[i][2]
        return "unmapped" if self._maps else None

    def thread(self, thread: drgn.Thread, crashed: bool, detail: bool) -> dict[str, Any]:
        """The snapshot record of one thread (frames empty and ``frames_cut`` set on failure)."""
        record: dict[str, Any] = {
            "tid": thread.tid,
            "name": _safe_name(thread),
            "crashed": crashed,
            "registers": {},
            "frames": [],
        }
        try:
            trace = thread.stack_trace()
        except _ERRORS as e:
            record["frames_cut"] = f"no stack trace: {e}"
            return record
        if len(trace) > 0:
            record["registers"] = _registers(trace[0])
        if not detail:
            record["frames_cut"] = "thread beyond max_threads: frames not kept"
            return record
        follow = self.bounds.follow_pointers if crashed else 0
        walk_frames(self, record, trace, follow)
        return record

    def frame(self, index: int, frame: drgn.StackFrame, follow: int) -> dict[str, Any] | None:
        """One frame; None when drgn does not know its pc (the end of the stack)."""
        try:
            pc = frame.pc
        except LookupError:
            return None
        _, module, build_id, start = self.module_of(pc)
        function, function_offset = self._function(frame, pc)
        file = line = column = None
        try:
            file, line, column = frame.source()
        except _ERRORS:
            pass
        return {
            "index": index,
            "pc": pc,
            "module": module,
            "build_id": build_id,
            "module_offset": pc - start if module else None,
            "function": function,
            "function_offset": function_offset,
            "function_start": None,  # FrameNamer.settle() knows it
            "file": file,
            "line": line or None,
            "column": column or None,
            "inline": frame.is_inline,
            "trusted": True,
            "variables": self._variables(frame, frame.function_name, follow),
        }

    def symbol(self, frame: drgn.StackFrame) -> drgn.Symbol | None:
        """``frame.symbol()`` (None when there is none), once per (pc, interrupted): drgn looks
        the symbol up at ``pc - 1`` in a frame that made a call, at ``pc`` in an interrupted one."""
        key = (frame.pc, frame.interrupted)
        if key not in self._symbols:
            try:
                self._symbols[key] = frame.symbol()
            except LookupError:
                self._symbols[key] = None
        return self._symbols[key]

    def module_of(self, pc: int) -> Placed:
        if pc not in self._modules:
            self._modules[pc] = self._find_module(pc)
        return self._modules[pc]

    def _find_module(self, pc: int) -> Placed:
        try:
            m = self.prog.module(pc)
        except LookupError:
            return None, None, None, 0
        ranges = m.address_ranges or []
        start = min((r[0] for r in ranges), default=pc)
        return m, m.name, m.build_id.hex() if m.build_id else None, start

    def _function(self, frame: drgn.StackFrame, pc: int) -> tuple[str | None, int | None]:
        name = frame.function_name  # DWARF; frame.name would fall back to a hex pc
        offset = None
        sym = None if frame.is_inline else self.symbol(frame)
        if sym is not None:
            offset = pc - sym.address
            name = name or sym.name
            if sym.name.startswith("_Z") or is_rust_symbol(sym.name):
                self.namer.linkage_names.append(sym.name)
                name = linkage_marked(sym.name, name)
        return name, offset

    def finish(self, threads: list[dict[str, Any]]) -> None:
        """Settle function names and which variables are parameters, for all frames at once.

        C++ frames get their demangled linkage name when its last component is the DWARF name
        (or drgn had none); parameters are looked up by that final name.
        """
        qualified = demangle_all(self.namer.linkage_names)
        for thread in threads:
            for frame in thread["frames"]:
                name = frame["function"]
                if name and name.startswith(LINKAGE):
                    _, mangled, plain = name.split(LINKAGE, 2)
                    full = qualified.get(mangled)
                    # A cold part or clone has the function's DWARF name and its own symbol
                    # with the clone mark (``load`` vs ``load [clone .cold]``): the same one.
                    same = plain == mangled or (
                        full is not None
                        and without_clones(last_component(full))
                        == without_clones(last_component(plain))
                    )
                    if full and same and plain != mangled:
                        full = without_clones(full)  # named by DWARF: gdb's name, no clone mark
                    name = frame["function"] = full if full and same else plain
                params = self._param_names(name)
                for var in frame["variables"]:
                    var["kind"] = "param" if var["name"] in params else "local"

    def _variables(
        self, frame: drgn.StackFrame, function: str | None, follow: int
    ) -> list[dict[str, Any]]:
        try:
            names = list(dict.fromkeys(frame.locals()))
        except _ERRORS:
            return []
        limit = min(self.bounds.max_vars_per_frame, self.vars_left)
        if len(names) > limit:
            cut = f"variables: {limit} of {len(names)} in {function or '??'}"
            if self.vars_left <= self.bounds.max_vars_per_frame:
                cut = f"variables: total budget of {self.bounds.max_total_vars} spent"
            if cut not in self.cuts:
                self.cuts.append(cut)
            names = names[:limit]
        out = []
        for name in names:
            try:
                obj = frame[name]
            except _ERRORS:
                continue
            # "local" until finish() knows the function's parameters by its final name.
            out.append(self.renderer.variable(obj, name, "local", follow))
        self.vars_left -= len(out)
        return out

    def _param_names(self, function: str | None) -> frozenset[str]:
        if function is None:
            return frozenset()
        if function not in self._params:
            try:
                params = self.prog.function(function).type_.parameters
                found = frozenset(p.name for p in params if p.name)
            except _ERRORS:
                found = frozenset()
            self._params[function] = found
        return self._params[function]


def _registers(frame: drgn.StackFrame) -> dict[str, int]:
    try:
        return {k: int(v) for k, v in frame.registers().items()}
    except _ERRORS:
        return {}


def _safe_name(thread: drgn.Thread) -> str | None:
    try:
        return thread.name
    except _ERRORS:
        return None
