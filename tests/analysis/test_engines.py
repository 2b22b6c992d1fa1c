"""The verdict and the fingerprint do not depend on which engine unwound the stack.

drgn is the first engine; the pure-Python core-reader engine takes over when drgn fails on a
core. The same crash must get the same labels and the same group either way.
"""

from __future__ import annotations

import pytest

from coresnap.analysis import analyze
from coresnap.corefile import open_core
from coresnap.snapshot.build import build_snapshot
from tests.analysis.analysis_support import Factory

CASES = [
    ("demo/programs/simple.c", (), ("-g", "-O0")),
    ("cls_fp_group.c", ("b", "1"), ("-g", "-O2")),
    ("cls_assert.c", (), ("-g", "-O0")),
    ("cls_uncaught_exception.cc", (), ("-g", "-O0")),
    ("cls_bad_jump.c", (), ("-g", "-O0")),
    ("cls_uaf_fastbin.c", (), ("-g", "-O0")),
]


@pytest.mark.parametrize(("source", "args", "flags"), CASES)
def test_corefile_engine_agrees_with_drgn(
    analyzed: Factory, source: str, args: tuple[str, ...], flags: tuple[str, ...]
) -> None:
    a = analyzed(source, *args, flags=flags)
    assert a.snapshot["analysis"]["engine"] == "drgn"
    snapshot = build_snapshot(a.crash.core, str(a.crash.exe), engine="corefile")
    with open_core(a.crash.core) as core:
        other = analyze(snapshot, core)
    assert other["analysis"]["engine"] == "corefile"
    assert other["classification"]["labels"] == a.labels
    ours, theirs = other["fingerprint"], a.snapshot["fingerprint"]
    # The blamed frame's index may differ (the engines see different inline frames in libc).
    assert {**ours, "blame": None} == {**theirs, "blame": None}
    assert {**ours["blame"], "frame": 0} == {**theirs["blame"], "frame": 0}
