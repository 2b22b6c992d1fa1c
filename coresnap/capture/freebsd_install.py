"""``coresnap install`` on FreeBSD: cores to a directory, devd tells the companion.

FreeBSD has no pipe core handler, so ``install`` sets (sysctl(8), see core(5)):

- ``kern.corefile = <incoming>/%P.core``: the kernel writes each core there, as the crashing
  user; the directory is made mode 1777 (sticky, like /tmp) so every user's core can be written
  and none can remove another's;
- ``kern.coredump_devctl = 1``: the kernel posts devd's ``coredump`` event after writing it
  (packaging/freebsd/devd/coresnap.conf runs ``coresnap devd-core $core``);
- ``kern.sugid_coredump``: 0 unless asked (``--sugid-coredump``): set-id programs' cores may
  hold other users' secrets.

The previous values are saved once in ``<dump.root>/previous-corefile.json`` and put back by
``uninstall``; the values are also written between markers into ``/etc/sysctl.conf.local`` (read
by ``/etc/rc.d/sysctl`` at boot), and that block is removed again.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from coresnap.capture.devd import CORE_NAME, INCOMING
from coresnap.capture.install import InstallError

SYSCTL = "/sbin/sysctl"
SYSCTL_CONF = Path("/etc/sysctl.conf.local")
DEVD_CONF = Path("/usr/local/etc/devd/coresnap.conf")
SAVED = "previous-corefile.json"
BEGIN = "# BEGIN coresnap (coresnap install; removed by coresnap uninstall)"
END = "# END coresnap"
NAMES = ("kern.corefile", "kern.coredump_devctl", "kern.sugid_coredump")


class Sysctl:
    """sysctl(8) by its command line: ``sysctl -n NAME`` reads, ``sysctl NAME=VALUE`` writes."""

    def __init__(self, program: str = SYSCTL) -> None:
        self.program = program

    def get(self, name: str) -> str:
        return self._run(["-n", name]).rstrip("\n")

    def set(self, name: str, value: str) -> None:
        self._run([f"{name}={value}"])

    def _run(self, args: Sequence[str]) -> str:
        try:
            out = subprocess.run([self.program, *args], capture_output=True, text=True, timeout=30)
        except OSError as e:
            raise InstallError(f"{self.program}: {e.strerror or e}") from None
        if out.returncode != 0:
            raise InstallError(f"sysctl {' '.join(args)}: {out.stderr.strip() or out.returncode}")
        return out.stdout


def wanted(incoming: str, sugid_coredump: bool) -> dict[str, str]:
    """The sysctl values ``install`` sets."""
    return {
        "kern.corefile": os.path.join(incoming, CORE_NAME),
        "kern.coredump_devctl": "1",
        "kern.sugid_coredump": "1" if sugid_coredump else "0",
    }


def _conf_without_block(text: str) -> str:
    out, inside = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith(BEGIN):
            inside = True
        elif inside and line.startswith(END):
            inside = False
        elif not inside:
            out.append(line)
    return "".join(out)


def install(
    root: str,
    incoming: str = INCOMING,
    sugid_coredump: bool = False,
    sysctl: Sysctl | None = None,
    sysctl_conf: Path | None = SYSCTL_CONF,
    devd_conf: Path = DEVD_CONF,
) -> list[str]:
    """Point kern.corefile at ``incoming`` and turn on the devd event. Returns report lines.
    Raises InstallError (sysctl refused), OSError."""
    sysctl = sysctl or Sysctl()
    values = wanted(incoming, sugid_coredump)
    lines = []
    Path(root).mkdir(parents=True, exist_ok=True)
    saved = Path(root) / SAVED
    if not saved.exists():
        previous = {name: sysctl.get(name) for name in NAMES}
        saved.write_text(json.dumps({"sysctl": previous, "installed": values,
                                     "saved_at": time.time()}) + "\n")  # fmt: skip
        lines.append(f"saved the previous {', '.join(NAMES)} in {saved}")
    Path(incoming).mkdir(parents=True, exist_ok=True)
    os.chmod(incoming, 0o1777)
    lines.append(f"{incoming}: mode 1777 (the kernel writes cores as the crashing user)")
    for name, value in values.items():
        sysctl.set(name, value)
        lines.append(f"{name} = {value}")
    if sysctl_conf:
        old = sysctl_conf.read_text() if sysctl_conf.exists() else ""
        block = "".join(f"{k}={v}\n" for k, v in values.items())
        sysctl_conf.write_text(_conf_without_block(old) + f"{BEGIN}\n{block}{END}\n")
        lines.append(f"wrote {sysctl_conf} (applied at boot by /etc/rc.d/sysctl)")
    if not devd_conf.exists():
        lines.append(f"note: no {devd_conf}: copy packaging/freebsd/devd/coresnap.conf there and "
                     f"run 'service devd restart', or cores stay in {incoming}")  # fmt: skip
    return lines


def uninstall(
    root: str,
    sysctl: Sysctl | None = None,
    sysctl_conf: Path | None = SYSCTL_CONF,
    force: bool = False,
) -> list[str]:
    """Put back the values saved by :func:`install` if kern.corefile is still ours.
    Raises InstallError (nothing saved, sysctl refused), OSError."""
    sysctl = sysctl or Sysctl()
    saved = Path(root) / SAVED
    if not saved.exists():
        raise InstallError(f"nothing to restore: no {saved} (was coresnap installed there?)")
    state = json.loads(saved.read_text())
    lines = []
    current = sysctl.get("kern.corefile")
    if current == state["installed"]["kern.corefile"] or force:
        for name, value in state["sysctl"].items():
            sysctl.set(name, value)
            lines.append(f"{name} = {value} (restored)")
    else:
        lines.append(f"kern.corefile is {current!r}, not coresnap's: left alone (--force restores)")
    if sysctl_conf and sysctl_conf.exists():
        text = sysctl_conf.read_text()
        if BEGIN in text:
            sysctl_conf.write_text(_conf_without_block(text))
            lines.append(f"removed coresnap's lines from {sysctl_conf}")
    saved.unlink()
    return lines
