"""The two ways to deploy, from install to back-to-clean on this machine (issue 14): the Debian
package (tools/build_deb.py, dpkg-deb; ``dpkg -i`` … ``dpkg --purge``) and the built wheel
(``pip install`` into a fresh virtualenv, ``coresnap install --system --store`` …
``uninstall --system``). Each creates the users, units and kernel hook; coronerd and coresnapd
run as their units say (under systemd when the machine runs it, else started here as the
units' users, the units checked with ``systemd-analyze verify``); a real crash ends committed
in coronerd under its dump id; the machine is then as it was."""

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

import pytest

from coresnap.capture import install
from tests import crashes
from tests.capture.hook import crash_piped, pipe_limit

REPO = Path(__file__).resolve().parents[2]
VENV = Path("/opt/coresnap-wheel")  # the wheel's virtualenv (the package's is /opt/coresnap)
WATCHED = ("/etc/coresnap", "/etc/sysctl.d", "/etc/systemd/system", "/lib/systemd/system",
           "/opt/coresnap", str(VENV), "/var/coresnap", "/var/lib/coronerd", "/var/lib/coresnap",
           "/usr/share/doc/coresnap", "/var/lib/systemd/deb-systemd-helper-enabled")  # fmt: skip
PORT = 16098
WHEELHOUSE = Path.home() / ".cache" / "coresnap-deb-wheelhouse"  # tools/build_deb.py fills it


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


def _unit(path: Path) -> dict[str, str]:
    keys = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            keys[key] = value
    return keys


def _as(user: str) -> list[str]:
    return ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--"]


def _started(path: Path, procs: list[subprocess.Popen[bytes]], log: Path) -> None:
    """Run the unit as systemd would, without systemd: its user, state directory, pre-step."""
    unit = _unit(path)
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
    """The package, and beside it the wheel it holds (its wheelhouse is cached)."""
    out = tmp_path_factory.mktemp("deb")
    done = subprocess.run([sys.executable, str(REPO / "tools" / "build_deb.py"), "--out",
                           str(out), "--wheelhouse", str(WHEELHOUSE)], capture_output=True, text=True, timeout=900)  # fmt: skip
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


def _exercise(bindir: Path, units: Path, tmp_path: Path,
              procs: list[subprocess.Popen[bytes]]) -> None:  # fmt: skip
    """Store and daemon up as their units say; a real crash committed in the store."""
    exe = crashes.build("capture_crash.c")
    assert crashes.read_core_pattern().startswith(f"|{bindir}/coresnap-archive ")
    assert {"coresnap", "coronerd"} <= {p.pw_name for p in pwd.getpwall()}
    wants = Path("/etc/systemd/system/multi-user.target.wants")
    assert {"coresnapd.service", "coronerd.service"} <= {p.name for p in wants.iterdir()}
    service, store = units / "coresnapd.service", units / "coronerd.service"
    verify = subprocess.run(["systemd-analyze", "verify", str(service), str(store)],
                            capture_output=True, text=True)  # fmt: skip
    assert verify.stderr == "", verify.stderr
    toml = Path("/etc/coresnap/coronerd.toml")
    as_installed = toml.read_text()
    toml.write_text(as_installed.replace("port = 6098", f"port = {PORT}"))
    running = subprocess.run(["systemctl", "is-system-running"], capture_output=True,
                             text=True).stdout.strip()  # fmt: skip
    systemd = running in ("running", "degraded")
    if systemd:
        subprocess.run(["systemctl", "restart", "coronerd.service"], check=True)
    else:  # no systemd here: the units' own commands, as their users
        _started(store, procs, tmp_path / "coronerd.log")
    coronerd = [str(bindir / "coronerd"), "-c", str(toml)]
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
    if systemd:
        subprocess.run(["systemctl", "restart", "coresnapd.service"], check=True)
    else:
        _started(service, procs, tmp_path / "coresnapd.log")
    crash_piped(exe, ["segv"])
    committed = Path("/var/coresnap/archive/committed")
    _wait("a committed dump", lambda: committed.is_dir() and any(committed.iterdir()))
    [dump_id] = [p.name for p in committed.iterdir() if "." not in p.name]
    got = subprocess.run([str(bindir / "coroner"), "-c", str(cf), "get", "blackhole", dump_id,
                          "-o", str(tmp_path / "s.snap")], capture_output=True, text=True)  # fmt: skip
    assert got.returncode == 0, got.stderr
    listed = subprocess.run([str(bindir / "coresnap"), "list", "-a", "--json"],
                            capture_output=True, text=True, check=True)  # fmt: skip
    assert [d["id"] for d in json.loads(listed.stdout)] == [dump_id]
    if systemd:
        subprocess.run(["systemctl", "stop", "coresnapd.service", "coronerd.service"], check=True)
    for p in procs:
        p.terminate()
        p.wait(20)
    cf.unlink()  # the admin's file, not the install's: it would be kept
    toml.write_text(as_installed)  # an edited configuration file would be kept too


def _clean_up(original: str) -> None:
    if _installed():
        subprocess.run(["dpkg", "--purge", "coresnap"], capture_output=True)
    if Path("/var/lib/coresnap/installed.json").exists():
        subprocess.run([str(VENV / "bin" / "coresnap"), "uninstall", "--system", "--purge"],
                       capture_output=True)  # fmt: skip
    if crashes.read_core_pattern() != original:
        install.CORE_PATTERN.write_text(original + "\n")
    for user in ("coresnap", "coronerd"):
        subprocess.run(["userdel", user], capture_output=True)
    for d in ("/opt/coresnap", str(VENV), "/var/coresnap", "/var/lib/coronerd", "/etc/coresnap"):
        shutil.rmtree(d, ignore_errors=True)


def test_deb_install_crash_committed_purge(deb: Path, tmp_path: Path,
                                           procs: list[subprocess.Popen[bytes]]) -> None:  # fmt: skip
    with crashes.core_pattern(None) as original, pipe_limit(None):
        before = _state()
        try:
            done = subprocess.run(["dpkg", "-i", str(deb)], capture_output=True, text=True)
            assert done.returncode == 0, done.stdout + done.stderr
            # Shipped without bytecode and with stripped shared objects (46 MB before), the
            # bytecode compiled by postinst (the daemons' users cannot write it at run time).
            assert deb.stat().st_size < 30 * 2**20, deb.stat().st_size
            assert list(Path("/opt/coresnap/lib").rglob("coresnap/__pycache__/*.pyc"))
            _exercise(Path("/opt/coresnap/bin"), Path("/lib/systemd/system"), tmp_path, procs)
            done = subprocess.run(["dpkg", "--purge", "coresnap"], capture_output=True, text=True)
            assert done.returncode == 0, done.stdout + done.stderr
            assert _state() == before
        finally:
            _clean_up(original)


def test_wheel_install_system_crash_committed_uninstall(
    deb: Path, tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    [wheel] = deb.parent.glob("coresnap-*.whl")
    with crashes.core_pattern(None) as original, pipe_limit(None):
        before = _state()
        try:
            subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", str(VENV)],
                           check=True)  # fmt: skip
            subprocess.run([sys.executable, "-m", "pip", "--python", str(VENV / "bin" / "python"),
                            "install", "-q", "--no-index", "--find-links",
                            str(WHEELHOUSE), str(wheel)], check=True, timeout=600)  # fmt: skip
            coresnap = str(VENV / "bin" / "coresnap")
            done = subprocess.run([coresnap, "install", "--system", "--store"],
                                  capture_output=True, text=True)  # fmt: skip
            assert done.returncode == 0, done.stdout + done.stderr
            _exercise(VENV / "bin", Path("/etc/systemd/system"), tmp_path, procs)
            done = subprocess.run([coresnap, "uninstall", "--system", "--purge"],
                                  capture_output=True, text=True)  # fmt: skip
            assert done.returncode == 0, done.stdout + done.stderr
            shutil.rmtree(VENV)  # pip uninstall, as it were
            assert _state() == before
        finally:
            _clean_up(original)
