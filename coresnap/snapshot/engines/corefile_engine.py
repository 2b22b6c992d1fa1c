"""The fallback engine: our core reader and our CFI unwinder only (no drgn, no DWARF values).

Serves when drgn is missing, fails or runs out of time, and for cores drgn does not read
(FreeBSD). Frames come from :func:`coresnap.unwind.unwinder.unwind_thread` (CFI, then the
frame-pointer chain, marked untrusted); without that package, each thread gets its top frame,
named from the ELF symbol tables. Frames carry no variables.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from coresnap.corefile.model import Module, Thread
from coresnap.snapshot.bounds import Bounds
from coresnap.snapshot.engines.result import EngineResult
from coresnap.snapshot.facts import crashed_tid

Unwinder = Callable[..., Any]


def _unwinder() -> Unwinder | None:
    try:
        from coresnap.unwind.unwinder import unwind_thread
    except ImportError:
        return None
    return unwind_thread


def run(core: Any, exe: str | None, bounds: Bounds) -> EngineResult:
    """Frames for every thread of the open ``core`` (a :class:`coresnap.corefile` core).

    Never raises for a bad stack: problems become warnings and ``frames_cut``.
    """
    unwind = _unwinder()
    resolver = _resolver(core, exe)
    result = EngineResult("corefile", [], crashed_tid(core))
    linkage: list[tuple[dict[str, Any], str]] = []
    for n, thread in enumerate(core.threads):
        record: dict[str, Any] = {"tid": thread.tid, "name": thread.name, "frames": []}
        if n >= bounds.max_threads:
            record["frames_cut"] = "thread beyond max_threads: frames not kept"
        elif unwind is None:
            record["frames"] = _top_frame(core, thread)
            record["frames_cut"] = "no unwinder available: top frame only"
        else:
            trace = unwind(core, thread, max_frames=bounds.max_frames, file_resolver=resolver)
            record["frames"] = [frame_record(i, f) for i, f in enumerate(trace)]
            linkage += [
                (r, f.linkage_name)
                for r, f in zip(record["frames"], trace, strict=True)
                if f.linkage_name
            ]
            if trace.stop_reason and not trace.stop_reason.startswith("outermost"):
                record["frames_cut"] = f"unwinding stopped: {trace.stop_reason}"
            result.warnings.extend(f"thread {thread.tid}: {n}" for n in trace.notes[:8])
        result.threads.append(record)
    if len(core.threads) > bounds.max_threads:
        result.cuts.append(f"threads: frames of {bounds.max_threads} of {len(core.threads)}")
    result.modules = _placed_modules(result.threads, {m.path for m in core.modules})
    _demangled_names(linkage)
    return result


def _demangled_names(linkage: list[tuple[dict[str, Any], str]]) -> None:
    """C++ frames named by their demangled linkage name, as gdb names them (the DIE's name
    stays when c++filt is missing or the two disagree on the function's own name)."""
    from coresnap.analysis.demangle import demangle_all, last_component

    names = demangle_all([mangled for _, mangled in linkage])
    for record, mangled in linkage:
        full = names.get(mangled)
        plain = record["function"]
        if full and plain and last_component(full) == last_component(plain):
            record["function"] = full


def _placed_modules(threads: list[dict[str, Any]], listed: set[str | None]) -> list[dict[str, Any]]:
    """Modules the unwinder placed that the core does not list (a NetBSD core names no files):
    each at ``pc - module_offset`` of a frame in it, its extent from the file's ``PT_LOAD``s."""
    placed: dict[str, dict[str, Any]] = {}
    for thread in threads:
        for f in thread["frames"]:
            path, offset = f.get("module"), f.get("module_offset")
            if not path or offset is None or path in listed or path in placed:
                continue
            record = _module_record(path, f["pc"] - offset)
            if record is not None:
                placed[path] = record
    return list(placed.values())


def _module_record(path: str, start: int) -> dict[str, Any] | None:
    """The module record of ``path`` placed at ``start``, from the object file the unwinder
    opened for it (cached: not parsed again)."""
    from elftools.common.exceptions import ELFError

    from coresnap.errors import UnwindError
    from coresnap.unwind import cache

    try:
        obj = cache.object_for_path(path, None)
        loads = [s for s in obj.elf.iter_segments() if s["p_type"] == "PT_LOAD"]
        embedded = obj.elf.get_section_by_name(".debug_info") is not None
    except (OSError, UnwindError, ELFError):
        return None
    if not loads:
        return None
    bias = start - obj.link_base
    return {
        "path": path,
        "build_id": obj.build_id,
        "start": start,
        "end": bias + max(s["p_vaddr"] + s["p_memsz"] for s in loads),
        "load_bias": bias,
        "debug_info": "embedded" if embedded else None,
        "debug_file": path if embedded else None,
        "build_id_mismatch": False,
    }


def _resolver(core: Any, exe: str | None) -> Callable[[str, str | None], str | None]:
    main = next((m.path for m in core.modules if m.is_executable), None)
    listed = {m.path for m in core.modules}

    def resolve(path: str, build_id: str | None) -> str | None:
        # A core that lists no executable (NetBSD: no file names at all) makes the unwinder ask
        # for the program by the name the core gives it (exec path or command name): that is
        # the executable the user gave, whatever its name on this machine.
        if exe and (path == main or (main is None and path not in listed)):
            return exe
        return path if os.path.exists(path) else None

    return resolve


def frame_record(index: int, f: Any, trusted: bool | None = None) -> dict[str, Any]:
    """The snapshot frame of the unwinder's frame ``f`` (``trusted`` overrides its own)."""
    return {
        "index": index,
        "pc": f.pc,
        "module": f.module,
        "build_id": f.build_id,
        "module_offset": f.module_offset,
        "function": f.function,
        "function_offset": f.function_offset,
        "function_start": f.function_start,
        "file": f.file,
        "line": f.line,
        "column": f.column,
        "inline": f.inline,
        "trusted": f.trusted if trusted is None else trusted,
        "variables": [],
        **({"tail_call": True} if f.tail_call else {}),
        **({"signal_frame": True} if f.signal_frame else {}),
    }


def _top_frame(core: Any, thread: Thread) -> list[dict[str, Any]]:
    if thread.pc is None:
        return []
    module: Module | None = next((m for m in core.modules if m.start <= thread.pc < m.end), None)
    frame: dict[str, Any] = {
        "index": 0,
        "pc": thread.pc,
        "module": module.path if module else None,
        "build_id": module.build_id if module else None,
        "module_offset": thread.pc - module.start if module else None,
        "function": None,
        "function_offset": None,
        "function_start": None,
        "file": None,
        "line": None,
        "column": None,
        "inline": False,
        "trusted": True,
        "variables": [],
    }
    return [frame]
