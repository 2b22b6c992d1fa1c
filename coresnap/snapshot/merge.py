"""Join what an engine found (frames, debug info) with what the core reader read (registers,
modules with build ids). The core reader is the authority on what the core says; the engine on
what the binaries say.
"""

from __future__ import annotations

import os
from typing import Any

from coresnap.snapshot.engines.result import EngineResult


def merge_threads(snap: dict[str, Any], result: EngineResult) -> None:
    """Put the engine's frames on the core's threads (threads only one side knows are kept)."""
    by_tid = {t["tid"]: t for t in snap["threads"]}
    for found in result.threads:
        thread = by_tid.get(found["tid"])
        if thread is None:
            thread = {"tid": found["tid"], "name": None, "crashed": False, "registers": {}}
            snap["threads"].append(thread)
            by_tid[found["tid"]] = thread
        thread["frames"] = found["frames"]
        thread["name"] = thread.get("name") or found.get("name")
        if not thread.get("registers") and found.get("registers"):
            thread["registers"] = found["registers"]
        if found.get("frames_cut"):
            thread["frames_cut"] = found["frames_cut"]
    if snap["crashed_thread"] is None:
        snap["crashed_thread"] = result.crashed_tid
    for thread in snap["threads"]:
        thread.setdefault("frames", [])
        thread["crashed"] = thread["tid"] == snap["crashed_thread"]


def merge_modules(
    core_modules: list[dict[str, Any]], engine_modules: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The core's modules, each with the engine's debug-info facts (matched by build id, then
    by path or file name); engine-only modules (the vDSO by drgn's name) are appended."""
    used: set[int] = set()
    merged = []
    for mod in core_modules:
        i = _match(mod, engine_modules, used)
        if i is not None:
            used.add(i)
            eng = engine_modules[i]
            mod = {**mod, "debug_info": eng["debug_info"], "debug_file": eng["debug_file"]}
            if eng["build_id_mismatch"]:
                mod["build_id_mismatch"] = True
                mod["file_build_id"] = eng.get("file_build_id")
            mod["build_id"] = mod["build_id"] or eng["build_id"]
        merged.append(mod)
    merged.extend(m for i, m in enumerate(engine_modules) if i not in used)
    return merged


def _match(mod: dict[str, Any], candidates: list[dict[str, Any]], used: set[int]) -> int | None:
    keys = (
        lambda c: bool(mod["build_id"]) and c["build_id"] == mod["build_id"],
        lambda c: c["path"] == mod["path"],
        lambda c: os.path.basename(c["path"]) == os.path.basename(mod["path"]),
    )
    for key in keys:
        for i, c in enumerate(candidates):
            if i not in used and key(c):
                return i
    return None
