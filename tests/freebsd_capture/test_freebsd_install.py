"""``coresnap install`` on FreeBSD: the OS decision, and the sysctl(8) command lines it runs,
against a stand-in ``sysctl`` program keeping values in files (Linux has no kern.* sysctls)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from coresnap.capture import freebsd_install, install

SYSCTL = """#!/bin/sh
# sysctl(8) as far as coresnap uses it: "sysctl -n NAME" prints, "sysctl NAME=VALUE" sets.
state={state}
if [ "$1" = -n ]; then
	[ -f "$state/$2" ] || {{ echo "sysctl: unknown oid '$2'" >&2; exit 1; }}
	cat "$state/$2"; exit 0
fi
name=${{1%%=*}}; value=${{1#*=}}
[ -f "$state/$name" ] || {{ echo "sysctl: unknown oid '$name'" >&2; exit 1; }}
echo "$name: $(cat "$state/$name") -> $value"
printf '%s\\n' "$value" > "$state/$name"
"""
DEFAULTS = {"kern.corefile": "%N.core", "kern.coredump_devctl": "0", "kern.sugid_coredump": "0"}


@pytest.fixture
def sysctl(tmp_path: Path) -> tuple[freebsd_install.Sysctl, Path]:
    state = tmp_path / "kern"
    state.mkdir()
    for name, value in DEFAULTS.items():
        (state / name).write_text(value + "\n")
    program = tmp_path / "sysctl"
    program.write_text(SYSCTL.format(state=state))
    program.chmod(0o755)
    return freebsd_install.Sysctl(str(program)), state


def test_the_os_decides_the_way_cores_are_hooked() -> None:
    assert install.host_os("linux") == "linux"
    assert install.host_os("freebsd14") == "freebsd" and install.host_os("freebsd13") == "freebsd"
    with pytest.raises(install.InstallError, match="darwin"):
        install.host_os("darwin")
    assert install.host_os() == "linux"  # this machine


def test_install_sets_and_uninstall_restores(tmp_path: Path, sysctl: tuple) -> None:
    program, state = sysctl
    root, incoming = tmp_path / "dumps", tmp_path / "incoming"
    conf = tmp_path / "sysctl.conf.local"
    conf.write_text("vfs.zfs.arc_max=4G\n")
    lines = freebsd_install.install(str(root), str(incoming), sysctl=program, sysctl_conf=conf)
    values = {n: (state / n).read_text().strip() for n in DEFAULTS}
    assert values == {"kern.corefile": f"{incoming}/%P.core", "kern.coredump_devctl": "1",
                      "kern.sugid_coredump": "0"}  # fmt: skip
    assert stat.S_IMODE(incoming.stat().st_mode) == 0o1777
    assert any("saved the previous" in line for line in lines)
    assert any("no /usr/local/etc/devd/coresnap.conf" in line for line in lines)  # Linux here
    text = conf.read_text()
    assert text.startswith("vfs.zfs.arc_max=4G\n") and f"kern.corefile={incoming}/%P.core\n" in text
    # Installing again (with set-id cores now) keeps the values saved the first time.
    freebsd_install.install(str(root), str(incoming), sugid_coredump=True, sysctl=program,
                            sysctl_conf=conf)  # fmt: skip
    assert (state / "kern.sugid_coredump").read_text().strip() == "1"
    assert conf.read_text().count(freebsd_install.BEGIN) == 1
    lines = freebsd_install.uninstall(str(root), sysctl=program, sysctl_conf=conf)
    assert {n: (state / n).read_text().strip() for n in DEFAULTS} == DEFAULTS
    assert conf.read_text() == "vfs.zfs.arc_max=4G\n"
    assert not (root / freebsd_install.SAVED).exists()
    with pytest.raises(install.InstallError, match="nothing to restore"):
        freebsd_install.uninstall(str(root), sysctl=program, sysctl_conf=conf)


def test_uninstall_leaves_a_foreign_corefile_alone(tmp_path: Path, sysctl: tuple) -> None:
    program, state = sysctl
    root = tmp_path / "dumps"
    freebsd_install.install(str(root), str(tmp_path / "in"), sysctl=program, sysctl_conf=None)
    program.set("kern.corefile", "/var/crash/%N.core")  # someone else's since
    lines = freebsd_install.uninstall(str(root), sysctl=program, sysctl_conf=None)
    assert "left alone" in lines[0]
    assert (state / "kern.corefile").read_text().strip() == "/var/crash/%N.core"
    assert (state / "kern.coredump_devctl").read_text().strip() == "1"


def test_a_refusing_sysctl_is_an_install_error(tmp_path: Path) -> None:
    with pytest.raises(install.InstallError, match="no_such_sysctl"):
        freebsd_install.install(str(tmp_path), str(tmp_path / "in"),
                                sysctl=freebsd_install.Sysctl(str(tmp_path / "no_such_sysctl")),
                                sysctl_conf=None)  # fmt: skip
