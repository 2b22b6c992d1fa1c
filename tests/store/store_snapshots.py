"""Valid snapshot documents (format v1) for store tests, with the facts the store indexes varied."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import zstandard


def frame(index: int, function: str) -> dict[str, Any]:
    return {
        "index": index,
        "pc": 0x401000 + 16 * index,
        "module": "/usr/bin/simple",
        "build_id": None,
        "module_offset": 0x1000 + 16 * index,
        "function": function,
        "function_offset": 4,
        "file": "simple.c",
        "line": 10 + index,
        "column": None,
        "inline": False,
        "trusted": True,
        "variables": [],
    }


def make_snapshot(
    application: str = "simple",
    hostname: str = "broadwell",
    fingerprint: str | None = "b3e85c13b23bfbe79702e5dc2c4102ae5615d81ba4df1608b44791a0e6279f80",
    labels: tuple[str, ...] = ("memory.write", "use-after-free"),
    frames: tuple[str, ...] = ("thread_fn", "start_thread"),
    timestamp: float | None = None,
    oid: str | None = None,
    **attributes: str | int | float,
) -> dict[str, Any]:
    """A complete snapshot of a crash of ``application`` on ``hostname``."""
    fp = (
        None if fingerprint is None else {"hash": fingerprint, "version": 1, "frames": list(frames)}
    )
    return {
        "format": "coresnap-snapshot",
        "version": 1,
        "uuid": oid or uuid.uuid4().hex,
        "timestamp": time.time() if timestamp is None else timestamp,
        "process": {
            "pid": 4616,
            "ppid": 1,
            "uid": 1000,
            "gid": 1000,
            "exe": f"/usr/bin/{application}",
            "cmdline": [application],
            "start_time": None,
            "cwd": "/",
            "environ": {},
        },
        "signal": {
            "number": 11,
            "name": "SIGSEGV",
            "code": 1,
            "code_name": "SEGV_MAPERR",
            "address": 0x30,
            "sender_pid": None,
            "sender_uid": None,
        },
        "crashed_thread": 4616,
        "threads": [
            {
                "tid": 4616,
                "name": application,
                "crashed": True,
                "registers": {"rip": 0x401000, "rsp": 0x7FFFFFFFE000},
                "frames": [frame(i, f) for i, f in enumerate(frames)],
            }
        ],
        "modules": [],
        "memory_map": [],
        "system": {
            "hostname": hostname,
            "kernel": {"sysname": "Linux"},
            "os_release": {},
            "boot_id": None,
            "uptime": None,
            "meminfo": {},
            "loadavg": [],
        },
        "attributes": {"application": application, "hostname": hostname, **attributes},
        "classification": {"labels": list(labels), "evidence": [], "confidence": 0.9}
        if labels
        else None,
        "annotations": [],
        "fingerprint": fp,
        "quality": {"score": 80, "reasons": []},
        "analysis": {
            "engine": "corefile",
            "fallback_reason": None,
            "tool_version": "test",
            "duration_ms": 1.0,
            "cuts": [],
            "core_path": None,
            "core_size": None,
        },
    }


def compress(snapshot: dict[str, Any]) -> bytes:
    import json

    return zstandard.compress(json.dumps(snapshot).encode())


def write(directory: Path, snapshot: dict[str, Any]) -> Path:
    path = directory / f"{snapshot['uuid']}.snap"
    path.write_bytes(compress(snapshot))
    return path
