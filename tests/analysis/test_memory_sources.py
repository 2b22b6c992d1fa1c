"""The same verdicts from other sources of facts: libc debug info through drgn, or no memory."""

from __future__ import annotations

import copy

import drgn
import pytest
from conftest import Factory

from coresnap.analysis import analyze

SMASH = ("-g", "-O0", "-fstack-protector-strong", "-U_FORTIFY_SOURCE")


def test_heap_found_by_drgn_and_by_chunk_headers_agree(analyzed: Factory) -> None:
    a = analyzed("demo/programs/simple.c")
    program = drgn.Program()
    program.set_core_dump(str(a.crash.core))
    try:
        program.load_default_debug_info()
    except drgn.MissingDebugInfoError:
        pass  # the vDSO never has any; libc's comes from libc6-dbg
    snapshot = copy.deepcopy(a.snapshot)
    snapshot["classification"] = None
    out = analyze(snapshot, program)
    via_drgn = next(e for e in out["classification"]["evidence"] if e["label"] == "use-after-free")
    via_headers = a.facts("use-after-free")
    assert via_drgn["facts"]["heap"]["source"] == "drgn: mp_.sbrk_base"
    assert via_headers["heap"]["source"].startswith("chunk headers")
    assert via_drgn["facts"]["heap"]["start"] == via_headers["heap"]["start"]
    assert via_drgn["facts"]["pointer"] == via_headers["pointer"]
    assert out["classification"]["labels"] == ["use-after-free", "memory.write"]


@pytest.mark.parametrize(
    ("source", "args", "flags", "label", "frame"),
    [
        ("cls_assert.c", (), ("-g", "-O0"), "assert", "__assert_fail"),
        ("cls_stack_smash.c", ("B" * 40,), SMASH, "stack-smash", "__stack_chk_fail"),
    ],
)
def test_without_memory_the_frames_still_classify(
    analyzed: Factory,
    source: str,
    args: tuple[str, ...],
    flags: tuple[str, ...],
    label: str,
    frame: str,
) -> None:
    snapshot = copy.deepcopy(analyzed(source, *args, flags=flags).snapshot)
    snapshot["classification"] = None  # as made without memory: no observations to reuse
    out = analyze(snapshot)
    assert out["classification"]["labels"] == [label]
    evidence = out["classification"]["evidence"][0]
    assert evidence["facts"]["frame"] == frame and evidence["confidence"] == 0.9
