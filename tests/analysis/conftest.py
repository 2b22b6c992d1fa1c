"""Real crashes for the analysis tests: each program is built and crashed once per session,
snapshotted by the real builder and analyzed with the real core open."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from crashes import Crash, build, crash  # noqa: E402

from coresnap.analysis import analyze  # noqa: E402
from coresnap.corefile import open_core  # noqa: E402
from coresnap.snapshot.build import build_snapshot  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
O0 = ("-g", "-O0")


@dataclass
class Analyzed:
    crash: Crash
    snapshot: dict[str, Any]

    @property
    def labels(self) -> list[str]:
        return self.snapshot["classification"]["labels"]

    def facts(self, label: str) -> dict[str, Any]:
        for e in self.snapshot["classification"]["evidence"]:
            if e["label"] == label:
                return e["facts"]
        raise AssertionError(f"no evidence for {label}: {self.snapshot['classification']}")

    @property
    def fingerprint(self) -> str:
        return self.snapshot["fingerprint"]["hash"]


Factory = Callable[..., Analyzed]


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
