"""Rust and Go builds for the frame tests, cached like ``crashes.build`` (by content and flags).

``rustc`` is looked up on PATH, then where rustup puts it (``~/.cargo/bin``, and root's, which
is where this machine has it); ``go`` on PATH (Debian's ``golang-go``). Without one, the tests
that need it skip and say which (``tools/setup-system.sh`` installs both).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.crashes import _BUILD_CACHE, PROGRAMS

RUSTC_PLACES = (Path.home() / ".cargo/bin/rustc", Path("/root/.cargo/bin/rustc"))


def rustc() -> str:
    """The rustc to use; skips the test when there is none."""
    found = shutil.which("rustc") or next((str(p) for p in RUSTC_PLACES if p.is_file()), None)
    if found is None:
        pytest.skip("rustc not found (PATH, ~/.cargo/bin): install Debian's rustc or rustup")
    return found


def go() -> str:
    """The go tool to use; skips the test when there is none."""
    found = shutil.which("go")
    if found is None:
        pytest.skip("go not found on PATH: install Debian's golang-go")
    return found


def _cached(name: str, key: bytes, make: object) -> Path:
    out = _BUILD_CACHE / f"{name}-{hashlib.sha256(key).hexdigest()[:16]}"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + f".tmp{os.getpid()}")
        make(tmp)  # type: ignore[operator]
        os.replace(tmp, out)
    return out


def build_rust(source: str, flags: Sequence[str], name: str) -> Path:
    """``tests/programs/<source>`` built with ``rustc <flags>``."""
    tool = rustc()
    src = PROGRAMS / source
    version = subprocess.run([tool, "--version"], capture_output=True, text=True).stdout

    def make(out: Path) -> None:
        # rustc names its intermediate files after the crate, in the output's directory: two
        # builds at once (xdist workers) must not share one.
        with tempfile.TemporaryDirectory(dir=out.parent) as work:
            built = Path(work) / "out"
            cmd = [tool, *flags, "-o", str(built), str(src)]
            subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600)
            os.replace(built, out)

    key = src.read_bytes() + "\0".join([version, *flags]).encode()
    return _cached(name, key, make)


def build_go(package: str, name: str) -> Path:
    """The Go module ``tests/programs/<package>`` built with ``go build`` (its own caches)."""
    tool = go()
    src = PROGRAMS / package
    files = sorted(p for p in src.iterdir() if p.is_file())
    env = {
        **os.environ,
        "GOCACHE": str(_BUILD_CACHE / "go-cache"),
        "GOPATH": str(_BUILD_CACHE / "go-path"),
        "GOFLAGS": "-mod=mod",
        "GOTOOLCHAIN": "local",
    }

    def make(out: Path) -> None:
        cmd = [tool, "build", "-o", str(out), "."]
        subprocess.run(
            cmd, check=True, capture_output=True, text=True, cwd=src, env=env, timeout=600
        )

    version = subprocess.run([tool, "version"], capture_output=True, text=True, env=env).stdout
    key = b"".join(p.name.encode() + p.read_bytes() for p in files) + version.encode()
    return _cached(name, key, make)
