"""Build the coresnap Debian package (``coresnap_<version>_<arch>.deb``) with dpkg-deb.

    python tools/build_deb.py [--out DIR] [--wheel FILE] [--wheelhouse DIR]

The package is built the way dh-virtualenv builds one: a virtualenv at its final path
(``/opt/coresnap``, made with the system's ``/usr/bin/python3``) holding the wheel and its
pinned dependencies (from ``--wheelhouse``, filled from PyPI the first time), its scripts'
``#!`` lines pointing at /opt/coresnap. The other files come from the same templates as
``coresnap install --system`` (coresnap/deploy/layout.py), with ``bindir=/opt/coresnap/bin``
and units in /lib/systemd/system. The maintainer scripts do what ``install --system`` does
that is not a file: users, the dump root, the kernel hook (``coresnap install``, which saves
the previous core_pattern) and the units (deb-systemd-helper / deb-systemd-invoke, as
debhelper's dh_installsystemd writes them); ``prerm`` restores the hook, ``purge`` removes
the users and the data.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from coresnap import __version__  # noqa: E402
from coresnap.deploy import layout  # noqa: E402

PREFIX = Path("/opt/coresnap")
PYTHON = "/usr/bin/python3"
WHEELHOUSE = Path.home() / ".cache" / "coresnap-deb-wheelhouse"
UNITS = ("coresnapd.service", "coronerd.service")

CONTROL = """Package: coresnap
Version: {version}
Architecture: {arch}
Maintainer: coresnap developers <coresnap@localhost>
Depends: python3 (>= 3.11), passwd, init-system-helpers
Section: utils
Priority: optional
Installed-Size: {size}
Homepage: https://github.com/coresnap/coresnap
Description: crash intelligence: catch every core dump, snapshot it, group it
 coresnap-archive is installed as the kernel's core_pattern handler; coresnapd turns each
 core into a small annotated snapshot and sends it to coronerd, the object store (also in
 this package, with its own user and unit), which groups duplicate crashes.
"""

POSTINST = """#!/bin/sh
set -e
if [ "$1" = configure ]; then
    {prefix}/bin/python3 -m compileall -q -j0 {prefix}/lib >/dev/null || true
    getent passwd coresnap >/dev/null || useradd --system --user-group --home-dir /var/coresnap \\
        --no-create-home --shell /usr/sbin/nologin --comment "coresnap (coresnapd)" coresnap
    getent passwd coronerd >/dev/null || useradd --system --user-group --home-dir /var/lib/coronerd \\
        --no-create-home --shell /usr/sbin/nologin --comment "coresnap (coronerd)" coronerd
    chgrp coronerd /etc/coresnap/coronerd.toml && chmod 0640 /etc/coresnap/coronerd.toml
    install -d -o coresnap -g coresnap -m 0750 /var/coresnap /var/coresnap/archive
    {bindir}/coresnap install
    for unit in {units}; do
        deb-systemd-helper unmask "$unit" >/dev/null || true
        if deb-systemd-helper --quiet was-enabled "$unit"; then
            deb-systemd-helper enable "$unit" >/dev/null || true
        else
            deb-systemd-helper update-state "$unit" >/dev/null || true
            deb-systemd-helper enable "$unit" >/dev/null || true
        fi
    done
    if [ -d /run/systemd/system ]; then
        systemctl --system daemon-reload >/dev/null || true
        deb-systemd-invoke restart {units} >/dev/null || true
    fi
fi
exit 0
"""

PRERM = """#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
    deb-systemd-invoke stop {units} >/dev/null || true
fi
if [ "$1" = remove ]; then
    {bindir}/coresnap uninstall || true
fi
exit 0
"""

POSTRM = """#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = remove ] || [ "$1" = purge ]; then
    rm -rf {prefix}  # bytecode Python wrote at run time, which dpkg does not know
    for unit in {units}; do
        deb-systemd-helper mask "$unit" >/dev/null || true
    done
fi
if [ "$1" = purge ]; then
    for unit in {units}; do
        deb-systemd-helper purge "$unit" >/dev/null || true
        deb-systemd-helper unmask "$unit" >/dev/null || true
    done
    rm -rf /var/coresnap /var/lib/coronerd
    getent passwd coronerd >/dev/null && userdel coronerd
    getent passwd coresnap >/dev/null && userdel coresnap
    rmdir /etc/coresnap 2>/dev/null || true
fi
exit 0
"""


def build_wheel(out: Path) -> Path:
    """The wheel of this checkout, built from a copy (the shared tree gets no build/ files)."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(REPO / name, src / name)
        shutil.copytree(REPO / "coresnap", src / "coresnap",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))  # fmt: skip
        _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(src), "-w", str(out)])
    return next(out.glob(f"coresnap-{__version__}-*.whl"))


def fill_wheelhouse(wheel: Path, wheelhouse: Path) -> None:
    """The wheels of every dependency, for the system Python (downloaded once)."""
    wheelhouse.mkdir(parents=True, exist_ok=True)
    # pip download copies the given wheel in too, and takes a copy already there (same name,
    # same version) for it: an older build's dependencies would be fetched.
    for old in wheelhouse.glob(f"{wheel.name.split('-')[0]}-*.whl"):
        old.unlink()
    done = subprocess.run([PYTHON, "-m", "pip", "--version"], capture_output=True)
    pip = [PYTHON, "-m", "pip"] if done.returncode == 0 else [sys.executable, "-m", "pip"]
    _run([*pip, "download", "-q", "--only-binary=:all:", "-d", str(wheelhouse),
          "--find-links", str(wheelhouse), str(wheel)])  # fmt: skip


def stage_venv(stage: Path, wheel: Path, wheelhouse: Path) -> None:
    venv = stage / PREFIX.relative_to("/")
    _run([PYTHON, "-m", "venv", "--without-pip", str(venv)])
    _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q",
          "--no-compile", "--no-index", "--find-links", str(wheelhouse), str(wheel)])  # fmt: skip
    strip_shared_objects(venv)
    for script in (venv / "bin").iterdir():
        if script.is_file() and not script.is_symlink():
            data = script.read_bytes()
            if data.startswith(b"#!") or str(venv).encode() in data:
                script.write_bytes(data.replace(str(venv).encode(), str(PREFIX).encode()))
    for pattern in ("activate*", "Activate.ps1"):
        for p in (venv / "bin").glob(pattern):
            p.unlink()


def strip_shared_objects(venv: Path) -> None:
    """Strip the wheels' shared objects as dh_strip does (--strip-unneeded keeps what the
    dynamic linker needs): drgn's bundled libraries carry their debug info. Bytecode is not
    shipped either (``--no-compile``): postinst compiles it, as py3compile does. Together they
    take the package from 46 MB to about 22 MB."""
    strip = shutil.which("strip")
    if strip is None:
        return
    objects = [
        str(p) for p in venv.rglob("*.so*") if p.is_file() and not p.is_symlink() and _elf(p)
    ]
    if objects:
        _run([strip, "--strip-unneeded", *objects])


def _elf(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def stage_files(stage: Path) -> list[str]:
    """The units and configuration files; returns the conffiles."""
    where = layout.Layout(bindir=PREFIX / "bin", unit_dir=Path("/lib/systemd/system"))
    conffiles = []
    for f in layout.files(where, store=True):
        target = stage / f.path.relative_to("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f.text)
        os.chmod(target, f.mode)
        if str(f.path).startswith("/etc/"):
            conffiles.append(str(f.path))
    doc = stage / "usr/share/doc/coresnap"
    doc.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "README.md", doc / "README.md")
    for name in ("pipeline.md", "store.md", "configuration.md"):
        if (REPO / "docs" / name).exists():
            shutil.copy(REPO / "docs" / name, doc / name)
    (doc / "copyright").write_text("coresnap\nLicense: Apache-2.0\n")
    return conffiles


def build(out: Path, wheel: Path | None = None, wheelhouse: Path = WHEELHOUSE) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    wheel = wheel or build_wheel(out)
    fill_wheelhouse(wheel, wheelhouse)
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp) / "coresnap"
        stage_venv(stage, wheel, wheelhouse)
        conffiles = stage_files(stage)
        debian = stage / "DEBIAN"
        debian.mkdir()
        arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                              check=True).stdout.strip()  # fmt: skip
        size = sum(p.stat().st_size for p in stage.rglob("*") if p.is_file()) // 1024
        (debian / "control").write_text(CONTROL.format(version=__version__, arch=arch, size=size))
        (debian / "conffiles").write_text("".join(f"{c}\n" for c in conffiles))
        values = {"bindir": PREFIX / "bin", "units": " ".join(UNITS), "prefix": PREFIX}
        for name, text in (("postinst", POSTINST), ("prerm", PRERM), ("postrm", POSTRM)):
            (debian / name).write_text(text.format(**values))
            os.chmod(debian / name, 0o755)
        deb = out / f"coresnap_{__version__}_{arch}.deb"
        _run(["dpkg-deb", "--root-owner-group", "-Zgzip", "-z6", "--build", str(stage), str(deb)])
    return deb


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"build_deb: {' '.join(argv)}: {done.stderr.strip()[-2000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "dist")
    parser.add_argument("--wheel", type=Path, help="the coresnap wheel (default: build one)")
    parser.add_argument("--wheelhouse", type=Path, default=WHEELHOUSE)
    args = parser.parse_args()
    print(build(args.out, args.wheel, args.wheelhouse))
    return 0


if __name__ == "__main__":
    sys.exit(main())
