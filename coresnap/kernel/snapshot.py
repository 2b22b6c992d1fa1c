"""A parsed kernel dump → a v1 snapshot (docs/snapshot-format.md, "Kernel snapshots").

The panicking thread is the snapshot's one thread, its frames the kernel's (``module`` is
``kernel``, or the ``.ko`` kgdb named); ``signal`` is null; the ``kernel`` section holds what
only a kernel dump has (panic message, version, uptime, dump device, crash time, trap). The
fingerprint is the userland one (coresnap/analysis/fingerprint.py) with the kernel's noise
frames (``lists/kernel_noise.txt``) dropped as well, so panics group like any crash.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping
from typing import Any

from coresnap import __version__
from coresnap.analysis.classify import classify_kernel
from coresnap.analysis.context import Context
from coresnap.analysis.fingerprint import fingerprint
from coresnap.kernel.model import KernelDump, KernelFrame
from coresnap.snapshot.format import FORMAT, VERSION

KERNEL_EXE = "/boot/kernel/kernel"
_REGISTERS = {  # trap block pointer -> register name, per dump header architecture
    "amd64": ("rip", "rsp", "rbp"),
    "i386": ("eip", "esp", "ebp"),
}


def _frame(index: int, f: KernelFrame) -> dict[str, Any]:
    return {
        "index": index,
        "pc": f.pc or 0,  # 0: the text gave symbol+offset only (ddb), see the format doc
        "module": os.path.basename(f.module) if f.module else "kernel",
        "build_id": None,
        "module_offset": None,
        "function": f.function,
        "function_offset": f.offset,
        "file": f.file,
        "line": f.line,
        "column": None,
        "inline": f.inline,
        "trusted": f.function is not None,
        "variables": [],
    }


def _release(version: str | None) -> tuple[str | None, str | None]:
    """(``13.2-RELEASE``, ``GENERIC``) of ``FreeBSD 13.2-RELEASE releng/13.2-n254617-... GENERIC``."""
    words = (version or "").split()
    if len(words) < 2 or words[0] != "FreeBSD":
        return None, None
    return words[1], (words[-1] if len(words) >= 3 else None)


def _registers(dump: KernelDump) -> dict[str, int]:
    trap, names = dump.msgbuf.trap, _REGISTERS.get(dump.machine or "")
    if trap is None or names is None:
        return {}
    values = (trap.instruction_pointer, trap.stack_pointer, trap.frame_pointer)
    return {n: v for n, v in zip(names, values, strict=True) if v is not None}


def _quality(dump: KernelDump, frames: list[dict[str, Any]]) -> dict[str, Any]:
    score, reasons = 100, []
    if not frames:
        score -= 60
        reasons.append("no backtrace of the panicking thread")
    elif not any(f["file"] for f in frames):
        score -= 20
        reasons.append(f"{dump.backtrace.source}: symbol+offset only, no source lines")
    if not dump.panic:
        score -= 10
        reasons.append("no panic message")
    if not dump.version:
        score -= 5
        reasons.append("no kernel version")
    if dump.crash_time is None:
        score -= 5
        reasons.append("no crash time (timestamp is when the snapshot was made)")
    return {"score": max(0, score), "reasons": reasons}


def _kernel_section(dump: KernelDump, release: str | None, ident: str | None) -> dict[str, Any]:
    h, mb, trap = dump.header, dump.msgbuf, dump.msgbuf.trap
    return {
        "panic": dump.panic,
        "version": dump.version,
        "release": release,
        "ident": ident,
        "uptime": mb.uptime,
        "dump_device": h.device,
        "crash_time": dump.crash_time,
        "source": dump.source,
        "backtrace_source": dump.backtrace.source or None,
        "hostname": dump.hostname,
        "architecture": dump.machine,
        "cpuid": mb.cpuid,
        "processes": dump.processes,
        "trap": None if trap is None else {
            "number": trap.number, "name": trap.name, "mode": trap.mode,
            "fault_address": trap.fault_address, "fault_code": trap.fault_code,
            "instruction_pointer": trap.instruction_pointer},
        "dump": {"length": h.dump_length, "compression": h.compression, "status": h.status,
                 "parity": h.parity},
        "files": dump.files,
    }  # fmt: skip


def _attributes(dump: KernelDump, kernel: dict[str, Any]) -> dict[str, str | int | float]:
    attrs: dict[str, str | int | float | None] = {
        "application": "kernel",
        "hostname": dump.hostname,
        "uname.sysname": "FreeBSD",
        "uname.release": kernel["release"],
        "uname.machine": dump.machine,
        "kernel.version": dump.version,
        "kernel.release": kernel["release"],
        "kernel.ident": kernel["ident"],
        "kernel.panic": dump.panic,
        "kernel.uptime": None if kernel["uptime"] is None else int(kernel["uptime"]),
        "kernel.source": dump.source,
        "process.pid": dump.curthread_pid,
    }
    return {k: v for k, v in attrs.items() if v is not None}


def build_kernel_snapshot(
    dump: KernelDump,
    *,
    kv: Mapping[str, str] | None = None,
    vmcore: str | None = None,
    started: float | None = None,
) -> dict[str, Any]:
    """The snapshot of ``dump``; ``kv`` adds attributes (``coresnap.object`` sets the uuid),
    ``vmcore`` is the dump file it came from (recorded as ``analysis.core_path``)."""
    started = time.monotonic() if started is None else started
    kv = dict(kv or {})
    oid = kv.get("coresnap.object") or uuid.uuid4().hex
    frames = [_frame(i, f) for i, f in enumerate(dump.backtrace.frames)]
    release, ident = _release(dump.version)
    kernel = _kernel_section(dump, release, ident)
    tid = dump.curthread_tid if dump.curthread_tid is not None else 0
    size = None
    if vmcore:
        try:
            size = os.stat(vmcore).st_size
        except OSError:
            size = None
    snapshot: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "uuid": oid,
        "timestamp": dump.crash_time if dump.crash_time is not None else time.time(),
        "process": {"pid": dump.curthread_pid, "ppid": None, "uid": None, "gid": None,
                    "exe": KERNEL_EXE, "name": dump.curthread_name, "cmdline": [],
                    "start_time": None, "cwd": None, "environ": {}},
        "signal": None,
        "crashed_thread": tid,
        "threads": [{"tid": tid, "name": dump.curthread_name, "crashed": True,
                     "registers": _registers(dump), "frames": frames}],
        "modules": [],
        "memory_map": [],
        "system": {"hostname": dump.hostname,
                   "kernel": {"sysname": "FreeBSD", "release": release,
                              "version": dump.version, "machine": dump.machine},
                   "os_release": {}, "boot_id": None, "uptime": dump.msgbuf.uptime,
                   "meminfo": {}, "loadavg": [], "source": "asset"},
        "attributes": {**_attributes(dump, kernel), **kv},
        "classification": None,  # below: the rules read the snapshot
        "annotations": [],
        "fingerprint": None,
        "quality": _quality(dump, frames),
        "analysis": {"engine": dump.source, "fallback_reason": None,
                     "tool_version": __version__,
                     "duration_ms": round((time.monotonic() - started) * 1000, 3),
                     "cuts": [], "core_path": vmcore, "core_size": size,
                     "warnings": list(dump.warnings)},
        "kernel": kernel,
    }  # fmt: skip
    snapshot["classification"] = classify_kernel(Context.build(snapshot))
    snapshot["fingerprint"] = fingerprint(snapshot)
    return snapshot
