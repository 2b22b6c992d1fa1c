"""Real crashes for the analysis tests: each program is built and crashed once per session,
snapshotted by the real builder and analyzed with the real core open."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from coresnap.analysis import analyze
from coresnap.corefile import open_core
from coresnap.snapshot.build import build_snapshot
from tests.analysis.analysis_support import O0, Analyzed, Factory
from tests.crashes import build, crash
from tests.paths import ROOT


@pytest.fixture(scope="session")
def analyzed(tmp_path_factory: pytest.TempPathFactory) -> Factory:
    """``analyzed(source, *args, flags=..., run=...)``: crash once, snapshot, analyze; cached."""
    cache: dict[tuple[Any, ...], Analyzed] = {}

    def get(source: str, *args: str, flags: Sequence[str] = O0, run: str = "") -> Analyzed:
        key = (source, args, tuple(flags), run)
        if key not in cache:
            path = Path(source) if "/" in source else Path(source)
            if source.startswith("demo/"):
                path = ROOT / source
            # A stable executable name (the build cache's names carry a hash of the flags),
            # as a real program keeps its name across builds.
            exe = tmp_path_factory.mktemp("bin") / Path(source).stem
            shutil.copy2(build(path, flags=flags), exe)
            cwd = tmp_path_factory.mktemp(Path(source).stem)
            result = crash(exe, args, cwd=cwd)
            # The real pipeline: the snapshot builder, then analysis with the core's memory.
            snapshot = build_snapshot(result.core, str(result.exe))
            with open_core(result.core) as core:
                cache[key] = Analyzed(result, analyze(snapshot, core))
        return cache[key]

    return get
