"""The snapshot sections the core reader alone knows: process, signal, threads' registers,
memory map and modules (with build ids). Both engines start from these.
"""

from __future__ import annotations

from typing import Any

from coresnap.corefile.model import Mapping, Module, SignalInfo, Thread


def process_section(core: Any) -> dict[str, Any]:
    """``process`` from ``NT_PRPSINFO`` (cmdline is pr_psargs split: assets give the real one)."""
    p = core.process
    return {
        "pid": p.pid,
        "ppid": p.ppid,
        "uid": p.uid,
        "gid": p.gid,
        "exe": p.exe,
        "name": p.fname,
        "cmdline": (p.psargs or "").split(),
        "start_time": None,
        "cwd": None,
        "environ": {},
    }


def signal_section(signal: SignalInfo | None) -> dict[str, Any] | None:
    if signal is None:
        return None
    return {
        "number": signal.signo,
        "name": signal.name,
        "code": signal.code,
        "code_name": signal.code_name,
        "address": signal.addr,
        "sender_pid": signal.sender_pid,
        "sender_uid": signal.sender_uid,
    }


def thread_section(thread: Thread, crashed: bool) -> dict[str, Any]:
    """A thread with its registers and no frames (the engine adds them)."""
    return {
        "tid": thread.tid,
        "name": thread.name,
        "crashed": crashed,
        "registers": {k: int(v) for k, v in thread.registers.items()},
        "frames": [],
    }


def mapping_section(m: Mapping) -> dict[str, Any]:
    return {
        "start": m.start,
        "end": m.end,
        "perms": m.perms,
        "path": m.path,
        "offset": m.file_offset,
        "in_core": m.in_core,
    }


def module_section(m: Module) -> dict[str, Any]:
    mismatch = bool(m.file_build_id and m.build_id and m.file_build_id != m.build_id)
    record: dict[str, Any] = {
        "path": m.path,
        "build_id": m.build_id,
        "start": m.start,
        "end": m.end,
        "load_bias": m.load_bias,
        "debug_info": None,
        "debug_file": None,
        "build_id_mismatch": mismatch,
    }
    if mismatch:
        record["file_build_id"] = m.file_build_id
    return record


def crashed_tid(core: Any) -> int | None:
    crashed = core.crashed_thread
    return crashed.tid if crashed is not None else None
