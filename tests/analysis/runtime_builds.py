"""Build Go and Rust test programs (cached by content and flags, like crashes.build) and crash
them the way their runtimes dump core: Go with GOTRACEBACK=crash, Rust built with panic=abort."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from tests.crashes import PROGRAMS

_CACHE = Path(os.environ.get("CORESNAP_TEST_BUILD_CACHE", "/tmp/coresnap-test-builds"))
GO_DEBUG = ("-gcflags=all=-N -l",)  # no optimisation, no inlining: what delve users build
RUST_O0 = ("-g", "-C", "panic=abort", "-C", "opt-level=0")
RUST_O2 = ("-g", "-C", "panic=abort", "-C", "opt-level=2")


def _tool(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=str(Path.home() / ".cargo" / "bin"))
    if found is None:
        raise FileNotFoundError(f"{name} is not installed (tools/setup-system.sh installs it)")
    return found


def _cached(source: Path, tool: str, flags: Sequence[str]) -> tuple[Path, bool]:
    """The cache entry for ``source`` built by ``tool`` (its path: two installed compilers
    are two builds) with ``flags``, and whether it is there."""
    key = hashlib.sha256(source.read_bytes() + "\0".join([tool, *flags]).encode()).hexdigest()
    out = _CACHE / f"{source.stem}-{key[:16]}"
    return out, out.exists()


def build_go(name: str, flags: Sequence[str] = ()) -> Path:
    """``go build`` tests/programs/``name`` with ``flags``; the cached executable."""
    source, go = PROGRAMS / name, _tool("go")
    out, done = _cached(source, go, flags)
    if not done:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f"{out.name}.tmp{os.getpid()}")
        cmd = [go, "build", *flags, "-o", str(tmp), str(source)]
        subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=_CACHE)
        os.replace(tmp, out)
    return out


def build_rust(name: str, flags: Sequence[str] = RUST_O0) -> Path:
    """``rustc`` tests/programs/``name`` with ``flags``; the cached executable."""
    source, rustc = PROGRAMS / name, _tool("rustc")
    out, done = _cached(source, rustc, flags)
    if not done:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f"{out.name}.tmp{os.getpid()}")
        cmd = [rustc, *flags, "-o", str(tmp), str(source)]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        os.replace(tmp, out)
    return out


def runtime_env(**extra: str) -> dict[str, str]:
    """The environment a crash runs in: this one without the runtimes' own knobs, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOTRACEBACK", "RUST_"))}
    return {**env, **extra}
