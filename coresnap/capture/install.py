"""Install coresnap-archive as the kernel's core handler, and put back what was there.

``install`` remembers the previous ``kernel.core_pattern`` and ``core_pipe_limit`` in the dump
root (``previous-core-pattern.json``, written once: installing twice keeps the original), sets
ours, and writes a sysctl.d drop-in so it survives a reboot (``50-coresnap.conf`` sorts after
systemd's ``50-coredump.conf``, so ours wins). ``uninstall`` restores the remembered values if
the pattern is still ours, and removes the drop-in it wrote (where it wrote it). Another crash
reporter owning the pattern is named with the way to disable it (seed 001). On FreeBSD
(:func:`host_os`) the same commands set kern.corefile and the devd event instead
(capture/freebsd_install.py, which the commands call: this module does not import it).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from coresnap.capture import coredump_socket, fields
from coresnap.errors import InstallError

CORE_PATTERN = Path("/proc/sys/kernel/core_pattern")
CORE_PIPE_LIMIT = Path("/proc/sys/kernel/core_pipe_limit")
SYSCTL_FILE = Path("/etc/sysctl.d/50-coresnap.conf")
SAVED = "previous-core-pattern.json"
MARKER = "# Installed by coresnap install; removed by coresnap uninstall."
PIPE_LIMIT = 64  # concurrent dumps the kernel pipes to us; more are skipped (and logged) by it
UNIX_PATH_MAX = 108  # sizeof(sockaddr_un.sun_path): the kernel refuses longer socket patterns

OTHER_HANDLERS = {
    "apport": "service apport stop; echo enabled=0 > /etc/default/apport "
    "(or: apt-get purge apport)",
    "abrt": "systemctl disable --now abrtd.service abrt-ccpp.service",
    "systemd-coredump": "ln -sf /dev/null /etc/sysctl.d/50-coredump.conf "
    "(coresnap's 50-coresnap.conf already sorts after it)",
}


@dataclass
class Report:
    lines: list[str]


def default_archive() -> str:
    """The coresnap-archive beside our interpreter (a virtualenv), else the one on PATH."""
    beside = Path(sys.executable).parent / "coresnap-archive"
    found = str(beside) if beside.is_file() else shutil.which("coresnap-archive")
    if not found:
        raise InstallError("coresnap-archive not found beside python nor on PATH")
    return os.path.abspath(found)


def other_handler(pattern: str) -> str | None:
    """The crash reporter that owns ``pattern`` (apport, abrt, systemd-coredump), if any."""
    for name in OTHER_HANDLERS:
        if name in pattern:
            return name
    return None


def host_os(platform: str | None = None) -> str:
    """``linux`` or ``freebsd``: which way ``install`` hooks cores on ``platform`` (default
    ``sys.platform``). Raises InstallError for any other system."""
    name = platform or sys.platform
    for known in ("linux", "freebsd"):
        if name.startswith(known):
            return known
    raise InstallError(f"coresnap install knows Linux and FreeBSD, not {name!r}")


def install(
    root: str,
    archive: str | None = None,
    config: str | None = None,
    pipe_limit: int = PIPE_LIMIT,
    sysctl_file: Path | None = SYSCTL_FILE,
    root_option: bool = True,
    socket: str | None = None,
) -> Report:
    """Pipe every core to coresnap-archive into ``root`` (named in the pattern unless
    ``root_option`` is False: then ``config``'s dump.root); with ``socket``, send them to
    coresnapd's coredump socket there instead (request mode), or say why the pipe is used.
    Linux only (FreeBSD: capture/freebsd_install.py). Raises InstallError, OSError."""
    lines: list[str] = []
    pattern = _socket_pattern(socket, lines) if socket else None
    if pattern is None:
        archive = archive or default_archive()
        options = (["-c", config] if config else []) + (["-r", root] if root_option else [])
        pattern = fields.pattern(archive, options)
    if len(pattern) >= fields.CORENAME_MAX_SIZE:
        raise InstallError(f"core_pattern would be {len(pattern)} bytes, the kernel keeps "
                           f"{fields.CORENAME_MAX_SIZE - 1}: use shorter paths ({pattern})")  # fmt: skip
    Path(root).mkdir(parents=True, exist_ok=True)
    current = CORE_PATTERN.read_text().rstrip("\n")
    owner = other_handler(current)
    if owner:
        lines.append(f"note: {owner} owned core_pattern; to disable it: {OTHER_HANDLERS[owner]}")
    saved = Path(root) / SAVED
    if not is_ours(current, socket) and not saved.exists():
        limit = CORE_PIPE_LIMIT.read_text().strip()
        saved.write_text(json.dumps({"core_pattern": current, "core_pipe_limit": limit,
                                     "saved_at": time.time(), "socket": socket}) + "\n")  # fmt: skip
        lines.append(f"saved the previous core_pattern {current!r} in {saved}")
    if sysctl_file and saved.exists():  # uninstall removes the drop-in from where it was written
        state = json.loads(saved.read_text())
        state["sysctl_files"] = sorted({*state.get("sysctl_files", []), str(sysctl_file)})
        saved.write_text(json.dumps(state) + "\n")
    CORE_PATTERN.write_text(pattern + "\n")
    CORE_PIPE_LIMIT.write_text(f"{pipe_limit}\n")
    lines.append(f"kernel.core_pattern = {pattern}")
    lines.append(f"kernel.core_pipe_limit = {pipe_limit}")
    if sysctl_file:
        sysctl_file.parent.mkdir(parents=True, exist_ok=True)
        sysctl_file.write_text(f"{MARKER}\nkernel.core_pattern = {pattern}\n"
                               f"kernel.core_pipe_limit = {pipe_limit}\n")  # fmt: skip
        lines.append(f"wrote {sysctl_file} (applied at boot)")
    return Report(lines)


def _socket_pattern(path: str, lines: list[str]) -> str | None:
    """``@@path`` (request mode) when this kernel has the coredump socket and coresnapd listens
    at ``path``; None, with a line saying so, when the kernel is too old: the pipe is used."""
    if not coredump_socket.supported():
        lines.append(f"note: this kernel ({os.uname().release}) has no coredump socket "
                     "(Linux 6.16+): installed the pipe to coresnap-archive instead")  # fmt: skip
        return None
    if not os.path.isabs(path) or len(path) >= UNIX_PATH_MAX:
        raise InstallError(f"capture.socket {path!r}: an absolute path under {UNIX_PATH_MAX} bytes")
    try:
        listening = stat.S_ISSOCK(os.stat(path).st_mode)
    except OSError:
        listening = False
    if not listening:
        raise InstallError(f"nothing listens at {path}: start coresnapd with capture.socket = "
                           f"{path} (systemd: systemctl enable --now coresnapd.socket) first")  # fmt: skip
    lines.append(f"coredump socket {path}: coresnapd receives every core (no process per "
                 "crash) and rejects a storm before the kernel writes it")  # fmt: skip
    return "@@" + path


def is_ours(pattern: str, socket: str | None = None) -> bool:
    """True for coresnap's pipe pattern, or the coredump socket ``socket`` (either mode)."""
    if socket and pattern in ("@" + socket, "@@" + socket):
        return True
    return pattern.startswith("|") and "coresnap-archive" in pattern.split()[0]


def uninstall(root: str, sysctl_file: Path | None = SYSCTL_FILE, force: bool = False) -> Report:
    """Restore the core_pattern saved by :func:`install`, and remove the drop-ins it wrote
    (``sysctl_file`` too, if it is ours). Linux only. Raises InstallError, OSError."""
    lines = []
    saved = Path(root) / SAVED
    current = CORE_PATTERN.read_text().rstrip("\n")
    if not saved.exists():
        raise InstallError(f"nothing to restore: no {saved} (was coresnap installed there?)")
    previous = json.loads(saved.read_text())
    if is_ours(current, previous.get("socket")) or force:
        CORE_PATTERN.write_text(previous["core_pattern"] + "\n")
        CORE_PIPE_LIMIT.write_text(f"{previous['core_pipe_limit']}\n")
        lines.append(f"kernel.core_pattern = {previous['core_pattern']} (restored)")
        lines.append(f"kernel.core_pipe_limit = {previous['core_pipe_limit']} (restored)")
    else:
        lines.append(f"core_pattern is {current!r}, not coresnap's: left alone (--force restores)")
    written = {Path(p) for p in previous.get("sysctl_files", [])} | ({sysctl_file} - {None})
    for drop_in in sorted(p for p in written if p is not None):
        if drop_in.exists() and drop_in.read_text().startswith(MARKER):
            drop_in.unlink()
            lines.append(f"removed {drop_in}")
    saved.unlink()
    return Report(lines)
