"""The stable JSON shape of a decoded core (``coresnap inspect --json``, documented in
``docs/inspect.md``). Addresses and register values are ``"0x…"`` strings: 64-bit values do
not survive JSON numbers in every consumer (JavaScript stops at 2**53).
"""

from __future__ import annotations

from typing import Any

from coresnap.corefile.core import Core
from coresnap.corefile.model import Mapping, Module, SignalInfo, Thread

FORMAT = "coresnap-inspect/1"


def _hex(value: int | None) -> str | None:
    return None if value is None else f"{value:#x}"


def signal_json(s: SignalInfo | None) -> dict[str, Any] | None:
    if s is None:
        return None
    return {
        "signo": s.signo,
        "name": s.name,
        "code": s.code,
        "code_name": s.code_name,
        "errno": s.errno,
        "addr": _hex(s.addr),
        "sender_pid": s.sender_pid,
        "sender_uid": s.sender_uid,
        "source": s.source,
    }


def thread_json(t: Thread, crashed: bool, registers: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "tid": t.tid,
        "name": t.name,
        "crashed": crashed,
        "signal": t.signal,
        "pc": _hex(t.pc),
        "sp": _hex(t.sp),
    }
    if registers:
        out["registers"] = {name: _hex(v) for name, v in t.registers.items()}
    return out


def mapping_json(m: Mapping) -> dict[str, Any]:
    return {
        "start": _hex(m.start),
        "end": _hex(m.end),
        "perms": m.perms,
        "file_offset": _hex(m.file_offset),
        "path": m.path,
        "label": m.label,
        "in_core": m.in_core,
    }


def module_json(m: Module) -> dict[str, Any]:
    return {
        "path": m.path,
        "start": _hex(m.start),
        "end": _hex(m.end),
        "load_bias": _hex(m.load_bias),
        "build_id": m.build_id,
        "build_id_source": m.build_id_source,
        "file_build_id": m.file_build_id,
        "is_executable": m.is_executable,
    }


def summarize(core: Core, *, registers: bool = True) -> dict[str, Any]:
    """Everything ``coresnap inspect`` shows, as JSON-ready data (see docs/inspect.md)."""
    p = core.process
    crashed = core.crashed_thread
    return {
        "format": FORMAT,
        "core": {
            "path": core.path,
            "size": core.size,
            "os": core.os,
            "arch": core.ident.arch,
            "elfclass": core.ident.elfclass,
            "byteorder": "little" if core.ident.byteorder == "<" else "big",
            "program_headers": core.elf.phnum,
            "segments": len(core.segments),
            "notes": len(core.notes),
            "truncated": [
                {
                    "vaddr": _hex(s.p_vaddr),
                    "p_filesz": s.p_filesz,
                    "available": s.available,
                }
                for s in core.truncated
            ],
            "warnings": list(core.warnings),
        },
        "process": {
            "pid": p.pid,
            "ppid": p.ppid,
            "pgrp": p.pgrp,
            "sid": p.sid,
            "uid": p.uid,
            "gid": p.gid,
            "exe": p.exe,
            "fname": p.fname,
            "cmdline": p.psargs,
            "state": p.state,
            "nice": p.nice,
        },
        "signal": signal_json(core.signal),
        "crashed_tid": crashed.tid if crashed else None,
        "threads": [thread_json(t, t is crashed, registers) for t in core.threads],
        "mappings": [mapping_json(m) for m in core.mappings],
        "modules": [module_json(m) for m in core.modules],
        "auxv": {e.name: _hex(e.a_val) for e in core.auxv},
    }
