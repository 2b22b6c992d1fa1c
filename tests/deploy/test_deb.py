"""The Debian package (tools/build_deb.py, dpkg-deb) from install to purge on this machine
(issue 14): dpkg -i creates the users, the units and the kernel hook; coronerd and coresnapd
run as their units say (under systemd when the machine runs it, else started here as the
units' users, the units checked with ``systemd-analyze verify``); a real crash ends committed
in coronerd under its dump id; dpkg --purge leaves the machine as it was."""

from __future__ import annotations

import json
import os
import pwd
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import crashes
import pytest
from hook import crash_piped, pipe_limit

from coresnap.capture import install

REPO = Path(__file__).resolve().parents[2]
WATCHED = ("/etc/coresnap", "/etc/sysctl.d", "/etc/systemd/system", "/lib/systemd/system",
           "/opt/coresnap", "/var/coresnap", "/var/lib/coronerd", "/usr/share/doc/coresnap",
           "/var/lib/systemd/deb-systemd-helper-enabled")  # fmt: skip
PORT = 16098


def _installed() -> bool:
    done = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "coresnap"], capture_output=True,
                          text=True)  # fmt: skip
    return "install ok installed" in done.stdout


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("dpkg-deb"), reason="root, dpkg"),
    pytest.mark.skipif(_installed() or any(u in {p.pw_name for p in pwd.getpwall()}
                       for u in ("coresnap", "coronerd")), reason="coresnap is installed here"),
]  # fmt: skip


def _state() -> dict[str, object]:
    files = sorted(str(p) for d in WATCHED if Path(d).exists() for p in Path(d).rglob("*"))
    users = sorted(p.pw_name for p in pwd.getpwall())
    return {"files": files, "users": users, "core_pattern": crashes.read_core_pattern()}


def _unit(name: str) -> dict[str, str]:
    keys = {}
    for line in Path(f"/lib/systemd/system/{name}").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            keys[key] = value
    return keys


def _as(user: str) -> list[str]:
    return ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--"]


def _started(name: str, procs: list[subprocess.Popen[bytes]], log: Path) -> None:
    """Run the unit as systemd would, without systemd: its user, state directory, pre-step."""
    unit = _unit(name)
    user = unit["User"]
    if "StateDirectory" in unit:
        state = Path("/var/lib") / unit["StateDirectory"]
        state.mkdir(mode=0o750, exist_ok=True)
        shutil.chown(state, user, user)
    cwd = unit.get("WorkingDirectory", "/")
    if "ExecStartPre" in unit:
        subprocess.run(_as(user) + shlex.split(unit["ExecStartPre"]), cwd=cwd, check=True,
                       capture_output=True, timeout=120)  # fmt: skip
    argv = [a for a in shlex.split(unit["ExecStart"]) if not a.startswith("$")]
    procs.append(subprocess.Popen(_as(user) + argv, cwd=cwd, stdout=subprocess.DEVNULL,
                                  stderr=open(log, "ab")))  # noqa: SIM115  # fmt: skip


def _wait(what: str, ok: object, timeout: float = 180) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if ok():  # type: ignore[operator]
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("deb")
    done = subprocess.run([sys.executable, str(REPO / "tools" / "build_deb.py"), "--out",
                           str(out)], capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip())


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for p in started:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()


def test_install_crash_committed_purge(deb: Path, tmp_path: Path,
                                       procs: list[subprocess.Popen[bytes]]) -> None:  # fmt: skip
    exe = crashes.build("capture_crash.c")
    with crashes.core_pattern(None) as original, pipe_limit(None):
        before = _state()
        try:
            done = subprocess.run(["dpkg", "-i", str(deb)], capture_output=True, text=True)
            assert done.returncode == 0, done.stdout + done.stderr
            assert crashes.read_core_pattern().startswith("|/opt/coresnap/bin/coresnap-archive ")
            assert {"coresnap", "coronerd"} <= {p.pw_name for p in pwd.getpwall()}
            wants = Path("/etc/systemd/system/multi-user.target.wants")
            assert {"coresnapd.service", "coronerd.service"} <= {p.name for p in wants.iterdir()}
            units = [f"/lib/systemd/system/{u}" for u in ("coresnapd.service", "coronerd.service")]
            verify = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True,
                                    text=True)  # fmt: skip
            assert verify.stderr == "", verify.stderr
            toml = Path("/etc/coresnap/coronerd.toml")
            toml.write_text(toml.read_text().replace("port = 6098", f"port = {PORT}"))
            running = subprocess.run(["systemctl", "is-system-running"], capture_output=True,
                                     text=True).stdout.strip()  # fmt: skip
            if running in ("running", "degraded"):
                subprocess.run(["systemctl", "restart", "coronerd.service"], check=True)
            else:  # no systemd here: the units' own commands, as their users
                _started("coronerd.service", procs, tmp_path / "coronerd.log")
            coronerd = ["/opt/coresnap/bin/coronerd", "-c", str(toml)]
            subprocess.run(_as("coronerd") + coronerd + ["project", "create", "blackhole"],
                           check=True, capture_output=True, cwd="/var/lib/coronerd")  # fmt: skip
            token = subprocess.run(_as("coronerd") + coronerd + ["token", "create", "blackhole",
                                   "blackhole", "--scope", "submit,read"], check=True,
                                   capture_output=True, text=True, cwd="/var/lib/coronerd")  # fmt: skip
            cf = Path("/etc/coresnap/coroner.cf")
            cf.write_text(f"[universe]\nname = test\nwrite = http://127.0.0.1:{PORT}\n"
                          f"read = 127.0.0.1:{PORT}\nread.ssl.enabled = false\n"
                          f"[token]\nblackhole = {token.stdout.strip()}\n")  # fmt: skip
            shutil.chown(cf, "root", "coresnap")
            cf.chmod(0o640)
            if running in ("running", "degraded"):
                subprocess.run(["systemctl", "restart", "coresnapd.service"], check=True)
            else:
                _started("coresnapd.service", procs, tmp_path / "coresnapd.log")
            crash_piped(exe, ["segv"])
            committed = Path("/var/coresnap/archive/committed")
            _wait("a committed dump", lambda: committed.is_dir() and any(committed.iterdir()))
            [dump_id] = [p.name for p in committed.iterdir() if "." not in p.name]
            got = subprocess.run(["/opt/coresnap/bin/coroner", "-c", str(cf), "get", "blackhole",
                                  dump_id, "-o", str(tmp_path / "s.snap")], capture_output=True,
                                 text=True)  # fmt: skip
            assert got.returncode == 0, got.stderr
            listed = subprocess.run(["/opt/coresnap/bin/coresnap", "list", "-a", "--json"],
                                    capture_output=True, text=True, check=True)  # fmt: skip
            assert [d["id"] for d in json.loads(listed.stdout)] == [dump_id]
            for p in procs:
                p.terminate()
                p.wait(20)
            cf.unlink()  # the admin's file, not the package's: dpkg would keep it
            done = subprocess.run(["dpkg", "--purge", "coresnap"], capture_output=True, text=True)
            assert done.returncode == 0, done.stdout + done.stderr
            assert _state() == before
        finally:
            if _installed():
                subprocess.run(["dpkg", "--purge", "coresnap"], capture_output=True)
            if crashes.read_core_pattern() != original:
                install.CORE_PATTERN.write_text(original + "\n")
            for user in ("coresnap", "coronerd"):
                subprocess.run(["userdel", user], capture_output=True)
            for d in ("/opt/coresnap", "/var/coresnap", "/var/lib/coronerd", "/etc/coresnap"):
                shutil.rmtree(d, ignore_errors=True)
