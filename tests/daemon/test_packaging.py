"""packaging/ (coresnap/data/packaging, shipped in the wheel): the units, rendered for an
installation in /usr/local, are valid and hardened, the init scripts parse, the drop-in is
ours."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from coresnap.capture import fields, install
from coresnap.deploy import layout

PACKAGING = Path(__file__).resolve().parents[2] / "packaging"
USR_LOCAL = layout.Layout(bindir=Path("/usr/local/bin"), dump_root=Path("/var/coresnap/archive"))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The systemd units as coresnap install --system writes them for /usr/local."""
    out = tmp_path_factory.mktemp("units")
    for unit in ("coresnapd.service", "coresnapd.socket", "coronerd.service"):
        (out / unit).write_text(layout.render(f"systemd/{unit}", USR_LOCAL))
    return out


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="needs systemd-analyze")
def test_unit_verifies_and_is_hardened(rendered: Path) -> None:
    unit = rendered / "coresnapd.service"
    verify = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True
    )
    problems = [line for line in verify.stderr.splitlines() if "is not executable" not in line]
    assert problems == [], verify.stderr  # the binary exists once installed, nothing else may fail
    security = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(unit)],
                              capture_output=True, text=True)  # fmt: skip
    level = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", security.stdout)[1])  # type: ignore[index]
    assert level < 3.0, security.stdout


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="needs systemd-analyze")
def test_socket_unit_verifies_and_activates_the_daemon(rendered: Path) -> None:
    socket_unit = rendered / "coresnapd.socket"
    unit = rendered / "coresnapd.service"
    verify = subprocess.run(["systemd-analyze", "verify", str(socket_unit), str(unit)],
                            capture_output=True, text=True, cwd=rendered)  # fmt: skip
    problems = [line for line in verify.stderr.splitlines() if "is not executable" not in line]
    assert problems == [], verify.stderr
    text = socket_unit.read_text()
    assert "ListenStream=/run/coresnap/coredump.socket" in text
    assert "Service=coresnapd.service" in text and "SocketMode=0666" in text


@pytest.mark.parametrize(
    "script", ["sysv/coresnapd", "freebsd/rc.d/coresnapd", "freebsd/rc.d/coronerd"]
)
def test_init_scripts_parse(script: str) -> None:
    subprocess.run(["sh", "-n", str(PACKAGING / script)], check=True)


def test_sysctl_drop_in_is_what_install_writes() -> None:
    text = layout.render("sysctl.d/50-coresnap.conf", USR_LOCAL)
    assert text == layout.sysctl_drop_in(USR_LOCAL)
    assert text.startswith(install.MARKER)
    assert f"kernel.core_pattern = {fields.pattern('/usr/local/bin/coresnap-archive')}\n" in text
    assert f"kernel.core_pipe_limit = {install.PIPE_LIMIT}\n" in text
