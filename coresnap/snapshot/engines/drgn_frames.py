"""Turn drgn stack traces into snapshot frames and variables, under the snapshot's bounds.

A thread's frames come one physical frame at a time (its inline frames first), settled by
:class:`~coresnap.snapshot.engines.drgn_names.FrameNamer`. The walk ends at the entry point,
at a zero return address (the outermost frame of Go's threads and goroutines, and of any
thread whose creator cleared it: gdb prints one ``0x0 in ?? ()`` there and stops; there is
no frame, so we show none), and goes on through signal trampolines drgn cannot unwind.
"""

from __future__ import annotations

import bisect
from typing import Any

import drgn

from coresnap.snapshot.bounds import Bounds
from coresnap.snapshot.demangle import demangle_all, is_rust_symbol, last_component
from coresnap.snapshot.engines.drgn_names import LINKAGE, FrameNamer, Group, linkage_marked
from coresnap.snapshot.engines.drgn_signal import interrupted_trace, trampoline_kind
from coresnap.snapshot.engines.tailcalls import tail_call_frames
from coresnap.snapshot.variables import Renderer

ENTRY_POINTS = frozenset({"_start", "__start", "___start"})
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
        self._params: dict[str, frozenset[str]] = {}
        # Threads of one process mostly share their frames (64 workers waiting in the same
        # place): these depend only on addresses of this program, so they are looked up once.
        self._symbols: dict[tuple[int, bool], drgn.Symbol | None] = {}
        self._modules: dict[int, Placed] = {}
        self._tails: dict[tuple[int, int], list[dict[str, Any]]] = {}
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
        frames: list[dict[str, Any]] = record["frames"]
        walk = list(trace)
        group: Group = []
        guessed = False  # the frame before was unwound without CFI: this one is a guess
        i = 0
        while i < len(walk):
            frame = walk[i]
            if len(frames) + len(group) >= self.bounds.max_frames:
                record["frames_cut"] = f"frames: {self.bounds.max_frames} of {len(walk)}+"
                self.cuts.append(f"thread {thread.tid}: {record['frames_cut']}")
                break
            out = self.frame(len(frames), frame, follow)
            if out is None or (out["pc"] == 0 and not frame.is_inline and i > 0):
                break
            group.append((frame, out))
            i += 1
            if frame.is_inline:
                continue
            caller = walk[i] if i < len(walk) else None
            settled, guess, signal = self._physical(group, caller, i > 1)
            group = []
            # A pc outside every module is garbage read off a broken stack, and its caller was
            # found by drgn's frame-pointer guess.
            untrusted = guessed or (out["module"] is None and i > 1)
            for r in settled:
                r["index"], r["trusted"] = len(frames), not untrusted
                frames.append(r)
            guessed = guess
            if signal == "code":  # drgn walked on as if the kernel had called the handler
                resumed = interrupted_trace(self.prog, frame)
                if resumed is None:
                    record["frames_cut"] = "signal frame: the saved registers cannot be read"
                    break
                walk[i:] = list(resumed)
            elif out["function"] in ENTRY_POINTS:
                break  # like gdb ("backtrace past-entry" off): nothing real calls the entry
            elif caller is not None and signal is None:
                frames.extend(self._tail_calls(frame, caller, len(frames)))
        return record

    def _physical(
        self, group: Group, caller: drgn.StackFrame | None, below_top: bool
    ) -> tuple[list[dict[str, Any]], bool, str | None]:
        """One physical frame's records; whether its caller is a guess (it has no CFI, as
        far as we know: no module, or no symbol and no FDE); its signal trampoline kind."""
        frame, out = group[-1]
        module, _, _, start = self._module_of(out["pc"])
        signal = trampoline_kind(self.prog, frame, caller) if below_top else None
        if signal is not None:
            self.namer.signal_frame(out, module, start)
            return [*(r for _, r in group[:-1]), out], False, signal
        settled = self.namer.settle(group, module, start, self._symbol(frame))
        guess = module is None or (settled[-1]["function_start"] is None)
        return settled, guess, None

    def _tail_calls(
        self, callee: drgn.StackFrame, caller: drgn.StackFrame, index: int
    ) -> list[dict[str, Any]]:
        try:
            sym = self._symbol(callee)
            return_address = caller.pc
        except _ERRORS:
            return []
        if sym is None or caller.interrupted:
            return []
        key = (sym.address, return_address)
        if key not in self._tails:
            self._tails[key] = tail_call_frames(self.prog, sym.address, return_address)
        found = self._tails[key]
        out = []
        for n, virtual in enumerate(found):
            _, module, build_id, start = self._module_of(virtual["pc"])
            out.append(
                {
                    "index": index + n,
                    **{k: v for k, v in virtual.items() if k != "function_start"},
                    "module": module,
                    "build_id": build_id,
                    "module_offset": virtual["pc"] - start if module else None,
                    "function_offset": None,
                    "function_start": virtual["function_start"] - start if module else None,
                    "trusted": True,
                    "tail_call": True,
                    "variables": [],
                }
            )
        return out

    def frame(self, index: int, frame: drgn.StackFrame, follow: int) -> dict[str, Any] | None:
        """One frame; None when drgn does not know its pc (the end of the stack)."""
        try:
            pc = frame.pc
        except LookupError:
            return None
        _, module, build_id, start = self._module_of(pc)
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

    def _symbol(self, frame: drgn.StackFrame) -> drgn.Symbol | None:
        """``frame.symbol()`` (None when there is none), once per (pc, interrupted): drgn looks
        the symbol up at ``pc - 1`` in a frame that made a call, at ``pc`` in an interrupted one."""
        key = (frame.pc, frame.interrupted)
        if key not in self._symbols:
            try:
                self._symbols[key] = frame.symbol()
            except LookupError:
                self._symbols[key] = None
        return self._symbols[key]

    def _module_of(self, pc: int) -> Placed:
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
        sym = None if frame.is_inline else self._symbol(frame)
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
                    same = plain == mangled or (
                        full is not None and last_component(full) == last_component(plain)
                    )
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
