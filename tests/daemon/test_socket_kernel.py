"""The kernel's coredump socket (``core_pattern = @@path``) into coresnapd, for real: install
and uninstall, cores archived with no helper process, storms answered "reject" before the
kernel writes anything, and every crash counted."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from coresnap.capture import coredump_socket, install
from coresnap.cli.coresnap import main as coresnap_main
from coresnap.spool import counters
from coresnap.spool.assets import read_metadata
from tests import crashes
from tests.capture.hook import crash_piped, pipe_limit, short_dir
from tests.daemon.daemon_helpers import CORESNAPD, conf, coresnapd, names, stop, wait_for

pytestmark = pytest.mark.skipif(
    not coredump_socket.supported(),
    reason="this kernel has no coredump socket (core_modes lacks 'socket': Linux 6.16+)",
)


@pytest.fixture
def root() -> Iterator[Path]:
    d = short_dir()
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def crasher() -> Path:
    return crashes.build("capture_crash.c")


@contextlib.contextmanager
def installed(cfg: Path) -> Iterator[str]:
    """``coresnap install --socket`` under the core_pattern lock; restored in finally."""
    with crashes.core_pattern(None) as before, pipe_limit(None):
        try:
            assert coresnap_main(["install", "--socket", "-c", str(cfg), "--no-sysctl-file"]) == 0
            yield crashes.read_core_pattern()
            assert coresnap_main(["uninstall", "-c", str(cfg)]) == 0
            assert crashes.read_core_pattern() == before
        finally:
            if crashes.read_core_pattern() != before:
                crashes.CORE_PATTERN.write_text(before + "\n")


def _conf(root: Path, **settings: str) -> Path:
    return conf(root / "c", root / "d", root / "s", capture__socket=str(root / "core.sock"),
                **settings)  # fmt: skip


def test_install_socket_crashes_archived_and_uninstall_restores(
    root: Path, crasher: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _conf(root)
    with coresnapd(cfg):
        wait_for(lambda: (root / "core.sock").exists(), what="the socket")
        with installed(cfg) as pattern:
            assert pattern == f"@@{root / 'core.sock'}"
            assert install.is_ours(pattern, str(root / "core.sock"))
            pid, _ = crash_piped(crasher, ["segv"])
            wait_for(lambda: len(names(root / "d" / "committed")) == 1, what="committed")
    out = capsys.readouterr().out
    assert f"kernel.core_pattern = @@{root / 'core.sock'}" in out
    assert "coredump socket" in out and "restored" in out
    [dump_id] = names(root / "d" / "committed")
    meta = read_metadata(root / "d" / "assets" / dump_id)
    assert meta["pid"] == str(pid) and meta["signal_name"] == "SIGSEGV"
    assert meta["exe_path"] == str(crasher) and meta["core"]["verified"]
    assert counters.read(root / "d") == {"archived": 1, "committed": 1}


def test_install_socket_needs_a_listener(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _conf(root)
    with crashes.core_pattern(None) as before:
        assert coresnap_main(["install", "--socket", "-c", str(cfg), "--no-sysctl-file"]) == 1
        assert crashes.read_core_pattern() == before
    assert f"nothing listens at {root / 'core.sock'}" in capsys.readouterr().err


def test_storm_is_rejected_before_the_kernel_writes_and_every_crash_is_counted(
    root: Path, crasher: Path
) -> None:
    cfg = _conf(root, ratelimit__exe="3/1m", dump__keep="full")
    with coresnapd(cfg):
        wait_for(lambda: (root / "core.sock").exists(), what="the socket")
        with installed(cfg):
            for _ in range(20):
                crash_piped(crasher, ["big", "16"])  # 16 MiB touched: a core worth not writing
        wait_for(lambda: len(names(root / "d" / "committed")) == 3, what="3 committed")
    values = counters.read(root / "d")
    assert values["archived"] == 3 and values["dropped.rejected.ratelimit.exe"] == 17
    assert values["archived"] + counters.dropped(values) == 20
    assert len(names(root / "d" / "assets")) == 3, "a rejected crash leaves no file"


def test_fingerprint_storm_of_one_executable_is_rejected(root: Path, crasher: Path) -> None:
    cfg = _conf(root, ratelimit__fingerprint="2/1m")
    with coresnapd(cfg):
        wait_for(lambda: (root / "core.sock").exists(), what="the socket")
        with installed(cfg):
            for n in range(6):
                crash_piped(crasher, ["segv"])
                # the next crash is judged on the fingerprints of the snapshots made so far
                wait_for(lambda n=n: _settled(root / "d", n + 1), what=f"crash {n} settled")
    values = counters.read(root / "d")
    assert values["committed"] == 2, values
    assert values.get("dropped.ratelimit.fingerprint", 0) <= 1
    assert values["archived"] + values.get("dropped.rejected.ratelimit.fingerprint", 0) == 6
    assert values["dropped.rejected.ratelimit.fingerprint"] >= 3


def _settled(dumps: Path, crashes_seen: int) -> bool:
    values = counters.read(dumps)
    done = values.get("committed", 0) + counters.dropped(values)
    return done == crashes_seen and not names(dumps / "pending") and not names(dumps / "sending")


def test_a_process_not_dumping_core_is_turned_away(root: Path) -> None:
    cfg = _conf(root)
    with coresnapd(cfg):
        wait_for(lambda: (root / "core.sock").exists(), what="the socket")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(str(root / "core.sock"))
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                s.sendall(b"\x7fELF not a core")
            s.settimeout(30)
            with contextlib.suppress(ConnectionResetError):
                assert s.recv(1) == b"", "closed unread"
    log = (root / "coresnapd.log").read_text()
    assert "is not dumping core; connection closed" in log
    assert names(root / "d" / "pending") == [] and counters.read(root / "d") == {}


# What systemd does for a socket unit: the socket as fd 3, LISTEN_PID and LISTEN_FDS, exec.
SD_EXEC = """import os, sys
os.dup2(int(sys.argv[1]), 3)
os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS="1")
os.execv(sys.argv[2], sys.argv[2:])"""


def test_socket_activation_as_systemd_does_it(root: Path, crasher: Path) -> None:
    """The listening socket made beforehand and passed as fd 3 with LISTEN_PID/LISTEN_FDS
    (sd_listen_fds(3)), as coresnapd.socket does; capture.socket names it for install."""
    path = root / "core.sock"
    listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listening.bind(str(path))
    path.chmod(0o666)
    listening.listen(16)
    cfg = _conf(root)
    daemon = subprocess.Popen(
        [sys.executable, "-c", SD_EXEC, str(listening.fileno()), str(CORESNAPD), "-c", str(cfg)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(listening.fileno(),),
    )  # fmt: skip
    listening.close()
    try:
        wait_for(lambda: "receiving cores on the coredump socket" in _log(root), what="ready")
        with installed(cfg):
            crash_piped(crasher, ["abort"])
            wait_for(lambda: len(names(root / "d" / "committed")) == 1, what="committed")
    finally:
        stop(daemon)
    [dump_id] = names(root / "d" / "committed")
    assert read_metadata(root / "d" / "assets" / dump_id)["signal_name"] == "SIGABRT"


def _log(root: Path) -> str:
    log = root / "coresnapd.log"
    return log.read_text() if log.exists() else ""
