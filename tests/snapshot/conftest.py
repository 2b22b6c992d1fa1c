"""Session fixtures for the snapshot tests: build the test programs, crash each once, snapshot
each once (per xdist worker), and share the results."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.crashes import Crash, build, crash
from tests.snapshot.snapshot_support import PROGRAMS, Crashed, crash_and_snapshot, lib_program


@pytest.fixture(scope="session")
def crashed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Crashed]:
    root = tmp_path_factory.mktemp("snapcrash")
    out: dict[str, Crashed] = {}
    for name, (source, flags) in PROGRAMS.items():
        out[name] = crash_and_snapshot(name, build(source, flags=flags), root / name)
    lib_dir = root / "lib"
    out["c_lib"] = crash_and_snapshot("c_lib", lib_program(lib_dir), lib_dir / "run")
    return out


@pytest.fixture
def fresh_crash(tmp_path: Path) -> Crash:
    """A crash of its own (for tests that delete or damage files)."""
    return crash(build("snap_basic.c", flags=("-g", "-O0")), cwd=tmp_path / "run")
