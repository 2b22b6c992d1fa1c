"""Quality score on real snapshots: what lowers it is named with the points it cost."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

from coresnap.analysis import analyze
from coresnap.corefile import open_core
from coresnap.snapshot.build import build_snapshot
from tests.analysis.analysis_support import Factory


def test_complete_snapshot_scores_100(analyzed: Factory) -> None:
    quality = analyzed("demo/programs/simple.c").snapshot["quality"]
    assert quality == {"score": 100, "reasons": ["complete: nothing lost"]}


def test_stack_overflow_in_thread_and_cut_frames(analyzed: Factory) -> None:
    a = analyzed("cls_stack_overflow.c", "thread")
    assert a.labels == ["stack-overflow", "memory.write"]
    facts = a.facts("stack-overflow")
    assert facts["code"] == "SEGV_ACCERR" and facts["guard"] == "guard mapping"
    cut = [r for r in a.snapshot["quality"]["reasons"] if "frames cut" in r]
    assert cut and cut[0].startswith("-5: frames cut by the snapshot's bounds")


def test_stripped_build_loses_symbol_points(analyzed: Factory) -> None:
    quality = analyzed("cls_fp_group.c", "b", "1", flags=("-O0", "-s")).snapshot["quality"]
    assert quality["score"] < 100
    assert any("frames symbolised" in r for r in quality["reasons"])


def test_truncated_core(analyzed: Factory, tmp_path: Path) -> None:
    whole = analyzed("demo/programs/simple.c").crash.core
    core = tmp_path / "core.truncated"
    shutil.copyfile(whole, core)
    with open(core, "r+b") as f:
        f.truncate(whole.stat().st_size // 2)
    snapshot = build_snapshot(core, str(analyzed("demo/programs/simple.c").crash.exe))
    with open_core(core) as opened:
        quality = analyze(snapshot, opened)["quality"]
    assert "-20: the core is truncated" in quality["reasons"]


def test_build_id_mismatch(analyzed: Factory) -> None:
    snapshot = copy.deepcopy(analyzed("cls_abort.c").snapshot)
    snapshot["modules"][0]["build_id_mismatch"] = True
    reasons = analyze(snapshot)["quality"]["reasons"]
    assert f"-15: build id mismatch: {snapshot['modules'][0]['path']}" in reasons
