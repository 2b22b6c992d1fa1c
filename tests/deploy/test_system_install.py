"""``coresnap install --system --store`` and back (issue 14): the users, units, configuration and
kernel hook appear with the paths of this installation, the units verify, and ``uninstall
--system`` leaves the host as it found it (files under a staging ``--destdir``; users, sysctls
and the kernel's core_pattern are this machine's, restored in ``finally``)."""

from __future__ import annotations

import grp
import pwd
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from coresnap.capture import install
from coresnap.cli.coresnap import main as coresnap_main
from coresnap.deploy import layout
from tests import crashes
from tests.capture.hook import pipe_limit

BIN = Path(sys.executable).parent
USERS = ("coresnap", "coronerd")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
DOC_DEST, DOC_BIN = "/tmp/w14/stage", "/opt/coresnap-venv/bin"


def _documented(command: str) -> str:
    """The output docs/deploy.md shows for ``coresnap <command> --system …``."""
    text = DOCS.read_text().split(f"$ coresnap {command} --system", 1)[1]
    return text.split("\n", 1)[1].split("$ coresnap", 1)[0].split("```", 1)[0]


def _tree(d: Path) -> set[str]:
    return {str(p.relative_to(d)) for p in d.rglob("*")}


def _verify(*units: Path) -> str:
    done = subprocess.run(["systemd-analyze", "verify", *map(str, units)], capture_output=True,
                          text=True)  # fmt: skip
    return done.stderr


def _exposure(unit: Path) -> float:
    done = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(unit)],
                          capture_output=True, text=True)  # fmt: skip
    return float(re.search(r"Overall exposure level for \S+: ([\d.]+)", done.stdout)[1])  # type: ignore[index]


@pytest.mark.skipif(any(u in {p.pw_name for p in pwd.getpwall()} for u in USERS),
                    reason="the coresnap/coronerd users exist here already")  # fmt: skip
def test_install_system_and_back(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dest = tmp_path / "host"
    dest.mkdir()
    users_before = sorted(p.pw_name for p in pwd.getpwall())
    with crashes.core_pattern(None) as original, pipe_limit(None):
        try:
            assert coresnap_main(["install", "--system", "--store", "--destdir", str(dest)]) == 0
            out = capsys.readouterr().out
            if original == "core":  # the documented run: the same lines, our paths for theirs
                assert _documented("install") == out.replace(str(dest), DOC_DEST).replace(
                    str(BIN), DOC_BIN
                )
            assert "created user and group coresnap" in out and "enabled coronerd.service" in out
            units = dest / "etc/systemd/system"
            service = (units / "coresnapd.service").read_text()
            assert f"ExecStart={BIN}/coresnapd " in service and "@" + "BINDIR" not in service
            assert f"ExecStart={BIN}/coronerd -c /etc/coresnap/coronerd.toml serve" in (
                units / "coronerd.service").read_text()  # fmt: skip
            wants = units / "multi-user.target.wants"
            assert {p.name: p.readlink() for p in wants.iterdir()} == {
                "coresnapd.service": Path("/etc/systemd/system/coresnapd.service"),
                "coronerd.service": Path("/etc/systemd/system/coronerd.service")}  # fmt: skip
            drop_in = (dest / "etc/sysctl.d/50-coresnap.conf").read_text()
            assert drop_in == layout.sysctl_drop_in(layout.Layout())
            assert crashes.read_core_pattern().startswith(f"|{BIN}/coresnap-archive ")
            conf = (dest / "etc/coresnap/coresnap.conf").read_text()
            assert "coroner.config = /etc/coresnap/coroner.cf" in conf
            store_conf = dest / "etc/coresnap/coronerd.toml"
            assert 'url = "sqlite:////var/lib/coronerd/coronerd.db"' in store_conf.read_text()
            assert grp.getgrgid(store_conf.stat().st_gid).gr_name == "coronerd"
            archive = dest / "var/coresnap/archive"
            assert pwd.getpwuid(archive.stat().st_uid).pw_name == "coresnap"
            if shutil.which("systemd-analyze"):
                problems = _verify(units / "coresnapd.service", units / "coronerd.service")
                # ReadWritePaths names the real dump root, which only the staging tree has.
                assert [p for p in problems.splitlines() if "/var/coresnap" not in p] == []
                assert _exposure(units / "coresnapd.service") < 3.0
                assert _exposure(units / "coronerd.service") < 2.0
            assert coresnap_main(["install", "--system", "--destdir", str(dest)]) == 1  # twice
            assert coresnap_main(["uninstall", "--system", "--purge", "--destdir", str(dest)]) == 0
            out = capsys.readouterr().out
            if original == "core":
                assert _documented("uninstall") == out.replace(str(dest), DOC_DEST)
            assert "removed user and group coronerd" in out
            assert "kernel.core_pattern = core (restored)" in out or original != "core"
            assert _tree(dest) == set(), "everything install --system added is gone"
            assert sorted(p.pw_name for p in pwd.getpwall()) == users_before
            assert crashes.read_core_pattern() == original
        finally:
            if crashes.read_core_pattern() != original:
                install.CORE_PATTERN.write_text(original + "\n")
            for user in USERS:
                subprocess.run(["userdel", user], capture_output=True)
