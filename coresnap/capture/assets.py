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
import io
import json
import os
import tarfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from coresnap.capture.policy import Policy
from coresnap.capture.scrub import Scrub
from coresnap.spool.stages import Spool, Stage

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


def write_tar(fd: int, members: Mapping[str, bytes], metadata: dict, mode: int) -> None:
    """Write ``metadata.json`` then ``members`` as a tar into the open file ``fd``."""
    now = time.time()
    with os.fdopen(os.dup(fd), "wb") as out, tarfile.open(fileobj=out, mode="w") as tar:
        items = [("metadata.json", json.dumps(metadata, indent=1, sort_keys=True).encode())]
        for name, data in [*items, *members.items()]:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, now
            tar.addfile(info, io.BytesIO(data))


def publish(
    spool: Spool,
    dump_id: str,
    members: Mapping[str, bytes],
    metadata: dict,
    *,
    mode: int,
    uid: int,
    gid: int,
) -> None:
    """Write ``members`` and ``metadata`` as the tar ``assets/<dump_id>``: built in staging
    (owner and mode set before anyone can see it), then renamed in; nothing left on failure."""
    temp = spool.staging_path(dump_id, "assets")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        write_tar(fd, members, metadata, mode)
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
    except OSError:
        os.close(fd)
        temp.unlink(missing_ok=True)
        raise
    os.close(fd)
    spool.publish(temp, Stage.ASSETS, dump_id)


def read_metadata(path: str | os.PathLike[str]) -> dict:
    """``metadata.json`` of the asset tar at ``path``. Raises OSError, tarfile.TarError, KeyError,
    ValueError."""
    with tarfile.open(Path(path), "r") as tar:
        member = tar.extractfile("metadata.json")
        if member is None:
            raise KeyError("metadata.json")
        return json.loads(member.read())
