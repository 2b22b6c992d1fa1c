"""Minicores written from the real kernel's stream: through the pipe into coresnap-archive and
through the coredump socket into coresnapd, for a process with 128 MiB of memory (most of it
dropped without being copied: splice)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from coresnap.capture import coredump_socket
from coresnap.corefile import open_core
from coresnap.spool.assets import read_metadata
from tests import crashes
from tests.capture.hook import archive_hook, crash_piped, pipe_limit, short_dir
from tests.daemon.daemon_helpers import conf, coresnapd, names, wait_for


@pytest.fixture
def root() -> Iterator[Path]:
    d = short_dir()
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _check(dumps: Path, pid: int) -> None:
    [dump_id] = names(dumps / "pending") or [n for n in names(dumps / "committed") if "." not in n]
    meta = read_metadata(dumps / "assets" / dump_id)
    core = meta["core"]
    assert core["keep"] == "minicore" and core["verified"] and not core["truncated"], core
    assert core["stream_bytes"] > 128 << 20 > 20 * core["size"]
    assert meta["pid"] == str(pid)
    kept = dumps / "pending" / dump_id
    if kept.exists():
        with open_core(kept) as c:
            assert c.crashed_thread is not None and c.signal is not None
            assert c.signal.name == "SIGSEGV"


@pytest.mark.parametrize("path", ["pipe", "socket"])
def test_minicore_from_the_kernel(root: Path, path: str) -> None:
    if path == "socket" and not coredump_socket.supported():
        pytest.skip("this kernel has no coredump socket (Linux 6.16+)")
    exe = crashes.build("capture_crash.c")
    dumps, sock = root / "d", root / "core.sock"
    cfg = conf(root / "c", dumps, root / "s", dump__minicore_above="0", capture__socket=str(sock))
    if path == "pipe":
        with archive_hook(None, cfg):
            pid, _ = crash_piped(exe, ["big", "128"])
    else:
        with coresnapd(cfg):
            wait_for(lambda: sock.exists(), what="the socket")
            with crashes.core_pattern(f"@@{sock}"), pipe_limit(4):
                pid, _ = crash_piped(exe, ["big", "128"])
            wait_for(lambda: len(names(dumps / "committed")) == 1, what="committed")
    _check(dumps, pid)
