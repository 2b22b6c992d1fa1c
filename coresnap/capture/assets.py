"""What disappears with the process, collected into ``assets/<id>`` (a tar). Stdlib only.

Tar members (the layout of docs/snapshot-format.md "Asset layout"):

- ``metadata.json``: every core_pattern field, what the archive tool did, namespaces, cgroup;
  first in the tar so readers find it without scanning.
- ``proc/cmdline``, ``proc/status``, ``proc/maps``, ``proc/limits``, ``proc/cgroup``,
  ``proc/stat``: copies.
- ``proc/environ``: NUL-separated, only the variables of the ``dump.environ`` allow-list.

``proc/cmdline`` and ``proc/environ`` are scrubbed by the privacy policy (:mod:`.scrub`) before
the tar is written; ``metadata.json`` ``privacy`` records what was removed (never the value).
- ``proc/cwd``, ``proc/exe``: the link targets, as text.
- ``meminfo``, ``loadavg``, ``os-release``, ``boot_id``, ``uptime``, ``hostname``: copies;
  ``uname``: JSON of os.uname().

A file that cannot be read (the process is gone, a kernel without it) is listed in
``metadata.json`` under ``assets_missing`` instead of failing the capture.
"""

from __future__ import annotations

import fnmatch
import json
import os
from collections.abc import Iterable

from coresnap.capture.policy import Policy
from coresnap.capture.scrub import Scrub

PROC_FILES = ("cmdline", "status", "maps", "limits", "cgroup", "stat")
PROC_LINKS = ("cwd", "exe")
NAMESPACES = ("pid", "mnt", "net", "user", "uts", "ipc", "cgroup")
SYSTEM_FILES = {
    "meminfo": "/proc/meminfo",
    "loadavg": "/proc/loadavg",
    "os-release": "/etc/os-release",
    "boot_id": "/proc/sys/kernel/random/boot_id",
    "uptime": "/proc/uptime",
    "hostname": "/proc/sys/kernel/hostname",
}
MAX_FILE = 4 << 20  # bytes read from one /proc file: maps of a huge process stay bounded


def _read(path: str) -> bytes | None:
    # Small reads: a sysctl file fails a large read with ENOMEM (the kernel kmallocs the size).
    chunks: list[bytes] = []
    try:
        with open(path, "rb", buffering=0) as f:
            while sum(map(len, chunks)) < MAX_FILE:
                chunk = f.read(65536)
                if not chunk:
                    break
                chunks.append(chunk)
    except OSError:
        return None
    return b"".join(chunks)


def _link(path: str) -> str | None:
    try:
        return os.readlink(path)
    except OSError:
        return None


def filter_environ(raw: bytes, allow: Iterable[str]) -> bytes:
    """Keep the ``NAME=value`` entries of a NUL-separated environ whose NAME is allowed."""
    patterns = list(allow)
    kept = []
    for entry in raw.split(b"\0"):
        name = entry.partition(b"=")[0].decode(errors="replace")
        if entry and any(fnmatch.fnmatchcase(name, p) for p in patterns):
            kept.append(entry)
    return b"\0".join(kept) + (b"\0" if kept else b"")


def collect_process(pid: int, environ_allow: Iterable[str]) -> tuple[dict[str, bytes], dict]:
    """Read /proc/<pid>: returns (tar members, facts for metadata.json)."""
    base = f"/proc/{pid}"
    members: dict[str, bytes] = {}
    missing = []
    for name in PROC_FILES:
        data = _read(f"{base}/{name}")
        if data is None:
            missing.append(f"proc/{name}")
        else:
            members[f"proc/{name}"] = data
    environ = _read(f"{base}/environ")
    if environ is None:
        missing.append("proc/environ")
    else:
        members["proc/environ"] = filter_environ(environ, environ_allow)
    links = {name: _link(f"{base}/{name}") for name in (*PROC_LINKS, "root")}
    for name in PROC_LINKS:
        if links[name] is None:
            missing.append(f"proc/{name}")
        else:
            members[f"proc/{name}"] = str(links[name]).encode()
    facts = {
        "exe": links["exe"],
        "cwd": links["cwd"],
        "root": links["root"],
        # A process in a container sees its exe under its own root: read it through ours.
        "exe_host_path": (
            f"{base}/root{links['exe']}"
            if links["exe"] and links["root"] not in (None, "/")
            else links["exe"]
        ),  # fmt: skip
        "namespaces": {ns: _link(f"{base}/ns/{ns}") for ns in NAMESPACES},
        "start_time": _start_time(members.get("proc/stat")),
        "assets_missing": missing,
    }
    return members, facts


def scrub_process(members: dict[str, bytes], policy: Policy, pid: int | None = None) -> dict:
    """Scrub ``proc/cmdline`` and ``proc/environ`` of ``members`` (in place) under ``policy``;
    returns the privacy record for metadata.json. The secrets of the whole environment of
    ``pid`` (not only the allow-listed part) are removed where they appear. Bytes that are not
    UTF-8 survive as they were (surrogateescape)."""
    scrub = Scrub(policy)
    everything = _read(f"/proc/{pid}/environ") if pid is not None else None
    if everything:
        scrub.learn(_split(everything), "proc")
    raw_args, raw_env = members.get("proc/cmdline"), members.get("proc/environ")
    args = _split(raw_args) if raw_args else []
    pairs = dict(e.partition("=")[::2] for e in _split(raw_env)) if raw_env else {}
    args = scrub.argv(args, "proc/cmdline")
    pairs = scrub.environ(pairs, "proc/environ")
    args = [scrub.text(a, f"proc/cmdline[{i}]") for i, a in enumerate(args)]
    pairs = {k: scrub.text(v, f"proc/environ.{k}") for k, v in pairs.items()}
    if raw_args:
        members["proc/cmdline"] = _join(args)
    if raw_env:
        members["proc/environ"] = _join(f"{k}={v}" for k, v in pairs.items())
    return scrub.record()


def _split(raw: bytes) -> list[str]:
    return [a.decode("utf-8", "surrogateescape") for a in raw.rstrip(b"\0").split(b"\0")]


def _join(items: Iterable[str]) -> bytes:
    return b"".join(a.encode("utf-8", "surrogateescape") + b"\0" for a in items)


def no_process() -> tuple[dict[str, bytes], dict]:
    """What :func:`collect_process` finds when there is no pid to read (a broken core_pattern)."""
    missing = [f"proc/{name}" for name in (*PROC_FILES, "environ", *PROC_LINKS)]
    facts = {"exe": None, "cwd": None, "root": None, "exe_host_path": None,
             "namespaces": dict.fromkeys(NAMESPACES), "start_time": None,
             "assets_missing": missing}  # fmt: skip
    return {}, facts


def _start_time(stat: bytes | None) -> float | None:
    """Process start, epoch seconds: proc(5) field 22 ``starttime`` (clock ticks after boot)
    plus ``btime`` of /proc/stat. The comm field may hold spaces: split after its ')'."""
    system = _read("/proc/stat")
    if not stat or not system:
        return None
    try:
        ticks = int(stat.rpartition(b")")[2].split()[19])
        btime = next(int(line.split()[1]) for line in system.splitlines()
                     if line.startswith(b"btime "))  # fmt: skip
    except (IndexError, ValueError, StopIteration):
        return None
    return btime + ticks / os.sysconf("SC_CLK_TCK")


def collect_system() -> tuple[dict[str, bytes], list[str]]:
    """Read the system facts: returns (tar members, names that could not be read)."""
    members: dict[str, bytes] = {}
    missing = []
    for name, path in SYSTEM_FILES.items():
        data = _read(path)
        if data is None:
            missing.append(name)
        else:
            members[name] = data
    u = os.uname()
    members["uname"] = json.dumps(
        {
            "sysname": u.sysname,
            "nodename": u.nodename,
            "release": u.release,
            "version": u.version,
            "machine": u.machine,
        }  # fmt: skip
    ).encode()
    return members, missing
