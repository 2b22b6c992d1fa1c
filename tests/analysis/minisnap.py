"""A minimal snapshot straight from a real core (drgn for stacks, the ELF notes for the rest).

The analysis tests need snapshots whose shape follows docs/snapshot-format (the keys the
analysis reads). When the real snapshot builder (``coresnap.snapshot``) is importable the tests
use it instead; this helper keeps the analysis tests independent of its progress.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import drgn
from elftools.elf.elffile import ELFFile

NT_SIGINFO = "NT_SIGINFO"
SIGNALS = {4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE", 11: "SIGSEGV"}
CODES = {
    11: {1: "SEGV_MAPERR", 2: "SEGV_ACCERR"},
    7: {1: "BUS_ADRALN", 2: "BUS_ADRERR", 3: "BUS_OBJERR", 4: "BUS_MCEERR_AR", 5: "BUS_MCEERR_AO"},
    8: {1: "FPE_INTDIV"},
    4: {1: "ILL_ILLOPC", 2: "ILL_ILLOPN"},
}
GENERIC = {0: "SI_USER", -1: "SI_QUEUE", -6: "SI_TKILL", 0x80: "SI_KERNEL"}


def _notes_and_loads(core: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    with open(core, "rb") as f:
        elf = ELFFile(f)
        notes: dict[str, Any] = {}
        loads = []
        for seg in elf.iter_segments():
            if seg["p_type"] == "PT_NOTE":
                for note in seg.iter_notes():
                    notes.setdefault(note["n_type"], note["n_desc"])
            elif seg["p_type"] == "PT_LOAD":
                flags = seg["p_flags"]
                perms = ("r" if flags & 4 else "-") + ("w" if flags & 2 else "-")
                perms += "x" if flags & 1 else "-"
                loads.append(
                    {
                        "start": seg["p_vaddr"],
                        "end": seg["p_vaddr"] + seg["p_memsz"],
                        "perms": perms,
                        "path": None,
                        "offset": 0,
                        "in_core": seg["p_filesz"] > 0,
                    }
                )
    return notes, loads


def _signal(desc: bytes, pid: int) -> dict[str, Any]:
    signo, _errno, code = struct.unpack_from("<iii", desc)
    sig: dict[str, Any] = {"number": signo, "name": SIGNALS.get(signo, f"SIG{signo}")}
    sig["code"] = code
    sig["code_name"] = (
        CODES.get(signo, {}).get(code) if code > 0 and code != 0x80 else GENERIC.get(code)
    )
    sig["address"] = struct.unpack_from("<Q", desc, 16)[0] if code > 0 else None
    if code <= 0:
        sig["sender_pid"], sig["sender_uid"] = struct.unpack_from("<iI", desc, 16)
    else:
        sig["sender_pid"] = sig["sender_uid"] = None
    return sig


def _frame(prog: drgn.Program, index: int, frame: Any) -> dict[str, Any] | None:
    try:
        pc = frame.pc
    except LookupError:
        return None
    out: dict[str, Any] = {"index": index, "pc": pc, "inline": frame.is_inline, "trusted": True}
    try:
        module = prog.module(pc - (0 if frame.interrupted else 1))
        out["module"], out["module_offset"] = module.name, pc - module.address_range[0]
    except LookupError:
        out["module"] = out["module_offset"] = None
    out["function"] = frame.name
    if not out["function"] or out["function"].startswith("0x"):
        try:
            out["function"] = prog.symbol(pc - (0 if frame.interrupted else 1)).name
        except LookupError:
            out["function"] = None
    try:
        _, out["line"], _ = frame.source()
        out["file"] = frame.source()[0]
    except LookupError:
        out["file"] = out["line"] = None
    out["variables"] = []
    for name in frame.locals():
        try:
            obj = frame[name]
            value = obj.value_() if obj.type_.kind.name in ("POINTER", "INT") else None
        except Exception:
            value = None
        out["variables"].append(
            {"name": name, "type": str(obj.type_) if value is not None else None, "value": value}
        )
    return out


def snapshot_from_core(core: Path) -> tuple[dict[str, Any], drgn.Program]:
    """A snapshot dict (the analysis keys) and the drgn program for ``core``."""
    prog = drgn.Program()
    prog.set_core_dump(str(core))
    try:
        prog.load_default_debug_info()
    except drgn.MissingDebugInfoError:
        pass
    notes, maps = _notes_and_loads(core)
    psinfo = notes["NT_PRPSINFO"]
    pid = psinfo["pr_pid"]
    for entry, name in zip(
        notes["NT_FILE"]["Elf_Nt_File_Entry"], notes["NT_FILE"]["filename"], strict=True
    ):
        for m in maps:
            if m["start"] == entry["vm_start"]:
                m["path"] = name.decode() if isinstance(name, bytes) else name
                m["offset"] = entry["page_offset"] * notes["NT_FILE"]["page_size"]
    crashed = prog.crashed_thread()
    threads = []
    for thread in prog.threads():
        trace = thread.stack_trace()
        frames = [f for i, fr in enumerate(trace) if (f := _frame(prog, i, fr)) is not None]
        regs = trace[0].registers() if len(trace) else {}
        threads.append(
            {
                "tid": thread.tid,
                "name": None,
                "crashed": thread.tid == crashed.tid,
                "registers": regs,
                "frames": frames,
            }
        )
    modules = []
    for module in prog.modules():
        start, end = module.address_range or (None, None)
        modules.append(
            {
                "path": module.loaded_file_path or module.name,
                "build_id": module.build_id.hex() if module.build_id else None,
                "start": start,
                "end": end,
                "load_bias": getattr(module, "load_bias", None) or start,
                "build_id_mismatch": False,
            }
        )
    snapshot = {
        "format": "coresnap-snapshot",
        "version": 1,
        "process": {"pid": pid, "exe": None},
        "signal": _signal(notes[NT_SIGINFO], pid),
        "crashed_thread": crashed.tid,
        "threads": threads,
        "modules": modules,
        "memory_map": maps,
        "analysis": {"cuts": []},
        "classification": None,
        "annotations": [],
        "fingerprint": None,
        "quality": None,
    }
    return snapshot, prog
