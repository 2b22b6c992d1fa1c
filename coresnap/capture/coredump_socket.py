"""The kernel's coredump socket (Linux 6.16+): ``core_pattern = @/path`` or ``@@/path``. Stdlib
only.

With ``@/path`` the kernel connects to the AF_UNIX stream socket at ``/path`` for each crash and
writes the core into the connection; with ``@@/path`` (request mode) it first sends a
``struct coredump_req`` and waits for a ``struct coredump_ack`` whose mask says what to do:
``COREDUMP_KERNEL`` (write the core), ``COREDUMP_USERSPACE`` or ``COREDUMP_REJECT`` (write
nothing), plus ``COREDUMP_WAIT`` (keep the process unreaped until the server closes the
connection, as ``core_pipe_limit`` does for a pipe). The kernel answers the ack with a 4-byte
``enum coredump_mark`` (``COREDUMP_MARK_REQACK`` when accepted), then streams the core and shuts
its side down (include/uapi/linux/coredump.h, fs/coredump.c ``coredump_sock_request``).

The server identifies the crashing process by ``SO_PEERPIDFD`` (a pidfd of the thread-group
leader, stable even if the pid is reused) and asks it ``PIDFD_GET_INFO`` with
``PIDFD_INFO_COREDUMP``: the kernel sets ``PIDFD_COREDUMPED`` before it connects, so a
connection from anything but a dumping process is told apart.
"""

from __future__ import annotations

import fcntl
import os
import socket
import struct
from typing import NamedTuple

from coresnap.errors import SocketProtocolError

CORE_MODES = "/proc/sys/kernel/core_modes"  # lists "socket" on kernels that have it
SO_PEERPIDFD = 77  # include/uapi/asm-generic/socket.h
# struct pidfd_info up to coredump_mask and its spare (include/uapi/linux/pidfd.h, 6.16):
# mask, cgroupid (u64 each), pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid
# (u32 each), exit_code (s32), coredump_mask, __spare1 (u32 each): 72 bytes.
PIDFD_INFO = struct.Struct("=QQ11IiII")
PIDFD_INFO_COREDUMP = 1 << 4
PIDFD_COREDUMPED, PIDFD_COREDUMP_SKIP, PIDFD_COREDUMP_USER, PIDFD_COREDUMP_ROOT = 1, 2, 4, 8
# _IOWR(PIDFS_IOCTL_MAGIC 0xFF, 11, struct pidfd_info): asm-generic/ioctl.h encoding.
PIDFD_GET_INFO = (3 << 30) | (PIDFD_INFO.size << 16) | (0xFF << 8) | 11
COREDUMP_KERNEL, COREDUMP_USERSPACE, COREDUMP_REJECT, COREDUMP_WAIT = 1, 2, 4, 8
COREDUMP_REQ = struct.Struct("=IIQ")  # size, size_ack, mask (COREDUMP_REQ_SIZE_VER0 = 16)
COREDUMP_ACK = struct.Struct("=IIQ")  # size, spare, mask (COREDUMP_ACK_SIZE_VER0 = 16)
COREDUMP_MARK_REQACK = 0
MARKS = {1: "ack too small", 2: "ack too big", 3: "unsupported mask", 4: "conflicting mask"}
MAX_REQ = 4096  # systemd's COREDUMP_REQ_SIZE_MAX: a bigger request is not a kernel's


class Request(NamedTuple):
    size: int
    size_ack: int
    mask: int  # the COREDUMP_* flags this kernel supports


def supported(core_modes: str = CORE_MODES) -> bool:
    """True when the running kernel has the coredump socket (``socket`` in core_modes)."""
    try:
        with open(core_modes) as f:
            return "socket" in f.read().split()
    except OSError:
        return False


def peer_pidfd(conn: socket.socket) -> int:
    """A pidfd of the connected process (the caller closes it). Raises OSError."""
    return int(conn.getsockopt(socket.SOL_SOCKET, SO_PEERPIDFD))


def coredump_mask(pidfd: int) -> int:
    """``pidfd_info.coredump_mask`` of ``pidfd``: PIDFD_COREDUMPED and how (user or root).
    Raises OSError (ENOTTY or EINVAL: a kernel without PIDFD_GET_INFO or its coredump part)."""
    buf = bytearray(PIDFD_INFO.size)
    struct.pack_into("=Q", buf, 0, PIDFD_INFO_COREDUMP)
    fcntl.ioctl(pidfd, PIDFD_GET_INFO, buf)
    fields = PIDFD_INFO.unpack(buf)
    if not fields[0] & PIDFD_INFO_COREDUMP:
        raise SocketProtocolError("PIDFD_GET_INFO without PIDFD_INFO_COREDUMP: kernel too old")
    return int(fields[-2])


def is_request(conn: socket.socket) -> bool:
    """True when the kernel starts with a coredump_req (``@@``), False when the core itself
    starts the stream (``@``): an ELF file begins with 0x7f, a request with its size."""
    first = conn.recv(4, socket.MSG_PEEK | socket.MSG_WAITALL)
    if len(first) < 4:
        raise SocketProtocolError("the connection closed before anything was sent")
    return first != b"\x7fELF"


def _recv_exactly(conn: socket.socket, n: int) -> bytes:
    data = bytearray()
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise SocketProtocolError(f"the connection closed after {len(data)} of {n} bytes")
        data += chunk
    return bytes(data)


def read_request(conn: socket.socket) -> Request:
    """Read the kernel's coredump_req (its size comes first). Raises SocketProtocolError."""
    (size,) = struct.unpack("=I", conn.recv(4, socket.MSG_PEEK | socket.MSG_WAITALL))
    if not COREDUMP_REQ.size <= size <= MAX_REQ:
        raise SocketProtocolError(f"a coredump_req of {size} bytes")
    return Request(*COREDUMP_REQ.unpack_from(_recv_exactly(conn, size)))


def answer(conn: socket.socket, request: Request, mask: int) -> None:
    """Send the coredump_ack ``mask`` and read the kernel's mark. Raises SocketProtocolError
    if the kernel refused the ack (it then writes no core)."""
    if mask & ~request.mask:
        raise SocketProtocolError(f"ack mask {mask:#x} asks for more than {request.mask:#x}")
    conn.sendall(COREDUMP_ACK.pack(COREDUMP_ACK.size, 0, mask))
    (mark,) = struct.unpack("=I", _recv_exactly(conn, 4))
    if mark != COREDUMP_MARK_REQACK:
        raise SocketProtocolError(f"the kernel refused the ack: {MARKS.get(mark, mark)}")


class SocketReader:
    """A connection as the Readable that :mod:`.minicore` and :mod:`.sparse` read."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn

    def readinto(self, buffer: memoryview, /) -> int:
        return self.conn.recv_into(buffer)

    def fileno(self) -> int:
        return self.conn.fileno()


def proc_text(pid: int, name: str) -> str:
    """``/proc/<pid>/<name>`` as text, empty when unreadable."""
    try:
        with open(f"/proc/{pid}/{name}", "rb") as f:
            return f.read(1 << 16).decode(errors="replace")
    except OSError:
        return ""


def status_field(status: str, name: str) -> list[str]:
    """The values of one ``/proc/<pid>/status`` line (``Uid``, ``NSpid``...)."""
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key == name:
            return value.split()
    return []


def core_limit(limits: str) -> str:
    """The soft ``Max core file size`` of ``/proc/<pid>/limits``, as %c prints it."""
    for line in limits.splitlines():
        if line.startswith("Max core file size"):
            soft = line[len("Max core file size") :].split()[0]
            return str((1 << 64) - 1) if soft == "unlimited" else soft
    return ""


def exe_path(pid: int) -> str:
    """The executable of ``pid`` (``/proc/<pid>/exe``), empty when it cannot be read."""
    try:
        return os.readlink(f"/proc/{pid}/exe").removesuffix(" (deleted)")
    except OSError:
        return ""
