"""Name the anonymous mappings a reader cares about, as ``/proc/<pid>/maps`` would: the
threads' stacks and the brk heap. The core's ``NT_FILE`` only names file mappings."""

from __future__ import annotations

import bisect
from typing import Any

_SP = ("rsp", "esp", "sp", "r15")  # x86-64, i386, aarch64/arm/riscv/mips..., s390x (r15)
HEAP_WINDOW = 1 << 32  # brk starts within a randomised gap after the executable (< 4 GiB)


def label_mappings(snap: dict[str, Any]) -> None:
    """Set ``label`` on memory_map entries: ``[stack]`` (the main thread), ``[stack:<tid>]``,
    ``[heap]`` (the first anonymous writable mapping above the executable)."""
    maps = sorted(snap["memory_map"], key=lambda m: m["start"])
    starts = [m["start"] for m in maps]
    pid = snap["process"].get("pid")
    for thread in snap["threads"]:
        sp = next((thread["registers"][r] for r in _SP if r in thread["registers"]), None)
        i = bisect.bisect_right(starts, sp) - 1 if sp is not None else -1
        if i >= 0 and sp < maps[i]["end"] and not maps[i]["path"]:
            maps[i]["label"] = "[stack]" if thread["tid"] == pid else f"[stack:{thread['tid']}]"
    exe = snap["process"].get("exe")
    exe_end = max((m["end"] for m in maps if exe and m["path"] == exe), default=None)
    if exe_end is None:
        return
    for m in maps:
        if m["start"] >= exe_end and not m["path"] and "w" in m["perms"] and "label" not in m:
            if m["start"] - exe_end < HEAP_WINDOW:
                m["label"] = "[heap]"
            return
