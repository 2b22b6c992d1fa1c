"""Build a corpus program one way (gcc, clang, g++, go, rustc, or a stripped twin), cached.

Multi-file programs in four languages are more than ``tests/crashes.build()`` (one C or C++
file through gcc/g++) does, so builds are made here, keyed the same way: a hash of the
sources, the compiler and its version, and the flags. The executable keeps the program's name
(``<cache>/builds/<program>/<build>-<key>/<program>``), as a real program keeps its name across
builds and the snapshot names modules after their file.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.grouping.truth import Build, Program

CACHE = Path(os.environ.get("CORESNAP_GROUPING_CACHE", "/tmp/coresnap-grouping-corpus"))
RUSTC = shutil.which("rustc") or "/root/.cargo/bin/rustc"
_SOURCES = {
    "c": (".c", ".h"),
    "c++": (".cc", ".hh", ".h"),
    "go": (".go", ".mod"),
    "rust": (".rs",),
    "node": (".js",),
}
_COMPILE = {"c": ".c", "c++": ".cc"}


class BuildError(Exception):
    """``program`` could not be built as ``build``; ``output`` is what the compiler said."""

    def __init__(self, program: str, build: str, output: str) -> None:
        super().__init__(f"building {program} as {build} failed:\n{output[-3000:]}")
        self.program = program
        self.build = build
        self.output = output


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (threads, xdist workers and the bench share caches)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def sources(program: Program) -> list[Path]:
    exts = _SOURCES[program.language]
    return sorted(p for p in program.dir.rglob("*") if p.is_file() and p.suffix in exts)


def source_hash(program: Program) -> str:
    h = hashlib.sha256()
    for path in sources(program):
        h.update(str(path.relative_to(program.dir)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


@functools.cache
def compiler_version(compiler: str) -> str:
    exe = RUSTC if compiler == "rustc" else compiler
    args = ["version"] if compiler == "go" else ["--version"]
    done = subprocess.run([exe, *args], capture_output=True, text=True, check=False)
    return (done.stdout or done.stderr).splitlines()[0] if done.returncode == 0 else "missing"


def build_key(program: Program, build: Build) -> str:
    parts = [source_hash(program), build.compiler, compiler_version(build.compiler)]
    parts += [*build.flags, "|", *program.flags, "|strip" if build.strip_of else ""]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def _command(program: Program, build: Build, out: Path) -> tuple[list[str], dict[str, str]]:
    env = dict(os.environ)
    if program.language in _COMPILE:
        files = [str(p) for p in sources(program) if p.suffix == _COMPILE[program.language]]
        cmd = [build.compiler, *build.flags, *program.flags, "-o", str(out), *files, "-pthread"]
        return cmd, env
    if program.language == "go":
        # A git checkout around the sources would be stamped into the binary (and can fail).
        env.update(GOFLAGS="-buildvcs=false", GOPROXY="off", GO111MODULE="on")
        return ["go", "build", *build.flags, *program.flags, "-o", str(out), "."], env
    if program.language == "rust":
        # Only an aborting panic dumps core: panic=abort is part of every Rust build.
        cmd = [RUSTC, "--edition", "2021", "-C", "panic=abort", "--crate-name", program.name]
        return [*cmd, *build.flags, *program.flags, "-o", str(out), "main.rs"], env
    # "node" is reserved in truth.toml for V8 programs: their runner (the interpreter as the
    # executable, the script as its first argument) comes with the first node case.
    raise BuildError(program.name, build.name, f"no build command for {program.language}")


def _compile(program: Program, build: Build, out: Path) -> None:
    cmd, env = _command(program, build, out)
    done = subprocess.run(cmd, cwd=program.dir, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BuildError(program.name, build.name, " ".join(cmd) + "\n" + done.stderr)


def build_program(program: Program, build: Build, builds: dict[str, Build]) -> Path:
    """The executable of ``program`` built as ``build`` (raises BuildError); cached on disk.

    A stripped build is the ``strip`` of its twin's executable, so both have one build id.
    """
    key = build_key(program, build)
    out = CACHE / "builds" / program.name / f"{build.name}-{key}" / program.name
    if out.exists():
        return out
    with locked(out.parent.with_name(out.parent.name + ".lock")):
        if out.exists():
            return out
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f"{program.name}.tmp{os.getpid()}")
        if build.strip_of:
            shutil.copy2(build_program(program, builds[build.strip_of], builds), tmp)
            done = subprocess.run(["strip", str(tmp)], capture_output=True, text=True)
            if done.returncode != 0:
                raise BuildError(program.name, build.name, done.stderr)
        else:
            _compile(program, build, tmp)
        os.replace(tmp, out)
    return out
