"""System and process facts from the crash-time assets: hostname, kernel, os-release, boot id,
uptime, memory, load; the process's command line, environment, cwd, ids and start time.

Without assets, system facts describe the machine running the analysis and say so
(``system.source = "analysis-host"``): right for the daemon, which runs where the crash was.
"""

from __future__ import annotations

import json
import os
from typing import Any

from coresnap.spool.assets import metadata, text

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def empty_system() -> dict[str, Any]:
    return {
        "hostname": None,
        "kernel": {"sysname": None, "release": None, "version": None, "machine": None},
        "os_release": {},
        "boot_id": None,
        "uptime": None,
        "meminfo": {},
        "loadavg": [],
        "source": None,
    }


def system_facts(assets: dict[str, bytes]) -> dict[str, Any]:
    """The ``system`` section from assets (every missing file leaves its key empty)."""
    sysinfo = empty_system()
    sysinfo["source"] = "asset"
    parts = parse_uname(text(assets, "uname") or "")
    if parts:
        sysinfo["kernel"] = {k: parts.get(k) for k in ("sysname", "release", "version", "machine")}
        sysinfo["hostname"] = parts.get("nodename")
    host = metadata(assets).get("hostname")
    sysinfo["hostname"] = text(assets, "hostname") or sysinfo["hostname"] or _str(host)
    sysinfo["os_release"] = parse_os_release(text(assets, "os-release") or "")
    sysinfo["boot_id"] = text(assets, "boot_id")
    sysinfo["uptime"] = _first_float(text(assets, "uptime"))
    sysinfo["meminfo"] = parse_meminfo(text(assets, "meminfo") or "")
    sysinfo["loadavg"] = _floats((text(assets, "loadavg") or "").split()[:3])
    return sysinfo


def parse_uname(body: str) -> dict[str, str]:
    """``uname``: JSON of os.uname() fields, or their five values one per line in that order."""
    body = body.strip()
    if body.startswith("{"):
        try:
            data = json.loads(body)
        except ValueError:
            return {}
        return {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    lines = body.splitlines()
    keys = ("sysname", "nodename", "release", "version", "machine")
    return dict(zip(keys, lines, strict=False)) if len(lines) >= 5 else {}


def local_system() -> dict[str, Any]:
    """The ``system`` section of the machine running this code (no assets were given)."""
    local: dict[str, bytes] = {}
    u = os.uname()
    keys = ("sysname", "nodename", "release", "version", "machine")
    local["uname"] = json.dumps({k: getattr(u, k) for k in keys}).encode()
    for name, path in (
        ("os-release", "/etc/os-release"),
        ("boot_id", "/proc/sys/kernel/random/boot_id"),
    ):
        try:
            with open(path, "rb") as f:
                local[name] = f.read(1 << 16)
        except OSError:
            continue
    sysinfo = system_facts(local)
    sysinfo["source"] = "analysis-host"
    return sysinfo


def process_facts(assets: dict[str, bytes]) -> dict[str, Any]:
    """Process keys the assets know (cmdline, environ, cwd, exe, uid, gid, ppid, start_time)."""
    facts: dict[str, Any] = {}
    raw = assets.get("proc/cmdline")
    if raw:
        facts["cmdline"] = [a.decode(errors="replace") for a in raw.rstrip(b"\0").split(b"\0")]
    raw = assets.get("proc/environ")
    if raw:
        pairs = (e.decode(errors="replace").partition("=") for e in raw.split(b"\0") if e)
        facts["environ"] = {k: v for k, _, v in pairs if k}
    meta = metadata(assets)
    for key in ("cwd", "exe"):
        value = text(assets, f"proc/{key}") or _str(meta.get(key))
        if value:
            facts[key] = value
    status = parse_status(text(assets, "proc/status") or "")
    for key, field in (("uid", "Uid"), ("gid", "Gid"), ("ppid", "PPid")):
        number = _int(status[field].split()[0] if status.get(field) else meta.get(key))
        if number is not None:
            facts[key] = number
    start = _start_time(assets)
    if start is not None:
        facts["start_time"] = start
    return facts


def crash_time(assets: dict[str, bytes]) -> float | None:
    """The crash time from ``metadata.json`` (core_pattern ``%t``), epoch seconds."""
    value = metadata(assets).get("time")
    try:
        return float(value) if isinstance(value, int | float | str) else None
    except ValueError:
        return None


def _start_time(assets: dict[str, bytes]) -> float | None:
    # /proc/<pid>/stat field 22 is starttime in clock ticks since boot (proc(5)); boot time is
    # the crash time less the uptime captured with it.
    meta = metadata(assets)
    if isinstance(meta.get("start_time"), int | float):
        return float(meta["start_time"])
    stat, crashed_at = text(assets, "proc/stat"), crash_time(assets)
    uptime = _first_float(text(assets, "uptime"))
    if not stat or crashed_at is None or uptime is None:
        return None
    fields = stat.rpartition(")")[2].split()
    try:
        ticks = int(fields[19])  # field 22 counted from 1, after pid and (comm)
    except (IndexError, ValueError):
        return None
    return round(crashed_at - uptime + ticks / _CLK_TCK, 2)


def parse_status(body: str) -> dict[str, str]:
    """``/proc/<pid>/status`` as ``{field: value}``."""
    out = {}
    for line in body.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def parse_os_release(body: str) -> dict[str, str]:
    """os-release(5): ``KEY=value`` lines, values optionally quoted."""
    out = {}
    for line in body.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            out[key] = value.strip().strip("\"'")
    return out


def parse_meminfo(body: str) -> dict[str, int]:
    """``/proc/meminfo`` in bytes (the file says kB)."""
    out = {}
    for line in body.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            scale = 1024 if len(parts) > 1 and parts[1] == "kB" else 1
            out[key.strip()] = int(parts[0]) * scale
    return out


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    try:
        return int(value) if isinstance(value, int | str) else None
    except ValueError:
        return None


def _first_float(value: str | None) -> float | None:
    floats = _floats((value or "").split()[:1])
    return floats[0] if floats else None


def _floats(items: list[str]) -> list[float]:
    try:
        return [float(x) for x in items]
    except ValueError:
        return []
