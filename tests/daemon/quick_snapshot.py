"""A fast stand-in for the snapshot step in storm tests: ``quick_snapshot.py ASSETS OUT ID``.

The real ``coresnap snapshot`` takes about a second per core; the storm and kill tests push
hundreds of dumps through coresnapd and test the *pipeline*, so their snapshot.command is this
script. It still writes a valid v1 snapshot (coresnap.snapshot.format) from the real assets,
with a fingerprint of executable and signal so the per-fingerprint limit has something to
count. ``--fail`` makes it exit 3 (a broken snapshot tool); ``--sleep S`` makes it slow.
"""

from __future__ import annotations

import hashlib
import sys
import time

from coresnap.snapshot.format import dumps
from coresnap.spool.assets import read_metadata


def snapshot(meta: dict, object_id: str) -> dict:
    exe = meta.get("exe") or meta.get("exe_path") or ""
    key = f"{exe}:{meta.get('signal')}"
    return {
        "format": "coresnap-snapshot", "version": 1, "uuid": object_id,
        "timestamp": float(meta.get("time") or time.time()),
        "process": {"pid": int(meta.get("pid") or 0), "ppid": None, "uid": None, "gid": None,
                    "exe": exe, "cmdline": [], "start_time": None, "cwd": None, "environ": {}},
        "signal": {"number": int(meta.get("signal") or 0), "name": str(meta.get("signal_name")),
                   "code": None, "code_name": None, "address": None, "sender_pid": None,
                   "sender_uid": None},
        "crashed_thread": None, "threads": [], "modules": [], "memory_map": [],
        "system": {"hostname": None, "kernel": {}, "os_release": {}, "boot_id": None,
                   "uptime": None, "meminfo": {}, "loadavg": []},
        "attributes": {"coresnap.object": object_id},
        "classification": None, "annotations": [],
        "fingerprint": {"hash": hashlib.sha256(key.encode()).hexdigest(), "version": 1,
                        "frames": []},
        "quality": None,
        "analysis": {"engine": "corefile", "fallback_reason": "quick test snapshot",
                     "tool_version": "test", "duration_ms": 0, "cuts": [], "core_path": None,
                     "core_size": None},
    }  # fmt: skip


def main(argv: list[str]) -> int:
    if "--fail" in argv:
        print("quick_snapshot: failing on purpose", file=sys.stderr)
        return 3
    if "--sleep" in argv:
        time.sleep(float(argv[argv.index("--sleep") + 1]))
    assets, out, object_id = argv[1:4]
    with open(out, "wb") as f:
        f.write(dumps(snapshot(read_metadata(assets), object_id)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
