"""Valid snapshot documents (format v1) for store tests, with the facts the store indexes varied.

coronerd groups by its own fingerprint of a snapshot, not by what the client claims, so a test
that wants distinct groups asks for distinct bugs: ``make_snapshot(fingerprint=SEED)`` crashes
at a source line derived from SEED (same seed, same bug), and carries the fingerprint a current
client computes. :func:`group_key` is the group key the store gives such a snapshot.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from pathlib import Path
from typing import Any

import zstandard

from coresnap.analysis.fingerprint import fingerprint as compute_fingerprint


def bug_line(seed: str) -> int:
    """The crash line of the bug named ``seed``: one line per seed (a site of its own)."""
    return 100 + int(hashlib.sha256(seed.encode()).hexdigest()[:8], 16) % 1_000_000


def frame(index: int, function: str, line: int = 0) -> dict[str, Any]:
    # No module: the fingerprint names the frame by its function alone ("thread_fn") and has no
    # address alias to join groups with. Another crash line is another pc all the same.
    offset = 0x1000 + 16 * index + (16 * line if line else 0)
    return {
        "index": index,
        "pc": 0x400000 + offset,
        "module": None,
        "build_id": None,
        "module_offset": offset,
        "function": function,
        "function_offset": 4,
        "file": "simple.c",
        "line": line or 10 + index,
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
    """A complete snapshot of a crash of ``application`` on ``hostname``: of the bug named by
    ``fingerprint`` (a seed), with the fingerprint a current client computes (none when None)."""
    exe = f"/usr/bin/{application}"
    line = bug_line(fingerprint) if fingerprint is not None else 0
    doc = {
        "format": "coresnap-snapshot",
        "version": 1,
        "uuid": oid or uuid.uuid4().hex,
        "timestamp": time.time() if timestamp is None else timestamp,
        "process": {
            "pid": 4616,
            "ppid": 1,
            "uid": 1000,
            "gid": 1000,
            "exe": exe,
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
                "frames": [frame(i, f, line if i == 0 else 0) for i, f in enumerate(frames)],
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
        "fingerprint": None,
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
    if fingerprint is not None:
        doc["fingerprint"] = compute_fingerprint(doc)
    return doc


def group_key(**kw: Any) -> str:
    """The group key coronerd gives ``make_snapshot(**kw)`` (its server fingerprint)."""
    doc = make_snapshot(**kw)
    fp = doc["fingerprint"] or compute_fingerprint(doc)
    return str(fp["hash"])


def compress(snapshot: dict[str, Any]) -> bytes:
    import json

    return zstandard.compress(json.dumps(snapshot).encode())


def write(directory: Path, snapshot: dict[str, Any]) -> Path:
    path = directory / f"{snapshot['uuid']}.snap"
    path.write_bytes(compress(snapshot))
    return path
