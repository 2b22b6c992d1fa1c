"""Widening a pipe's buffer (Linux ``F_SETPIPE_SZ``). It imports ``fcntl`` only, so that
coresnap-archive widens the kernel's pipe as its first statement, before the imports (~0.1 s)
during which the kernel would wait on a full 64 KiB pipe. Stdlib only."""

from __future__ import annotations

import fcntl

F_SETPIPE_SZ = 1031  # include/uapi/linux/fcntl.h (F_LINUX_SPECIFIC_BASE + 7)
F_GETPIPE_SZ = 1032


def widen(fd: int, *sizes: int) -> None:
    """Give the pipe on ``fd`` the first of ``sizes`` (the largest first) the kernel grants;
    a pipe already that wide stays as wide. Anything but a pipe, or a refusal of every size,
    is ignored. (Beyond fs.pipe-max-size takes CAP_SYS_RESOURCE; the pages are taken only as
    the writer fills them.)"""
    for size in sizes:
        try:
            if fcntl.fcntl(fd, F_GETPIPE_SZ) < size:
                fcntl.fcntl(fd, F_SETPIPE_SZ, size)
            return
        except (OSError, ValueError):
            continue
