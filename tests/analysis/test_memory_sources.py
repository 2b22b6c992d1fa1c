"""The same verdicts from other sources of facts: libc debug info through drgn, or no memory."""

from __future__ import annotations

import copy

import drgn
import pytest

from coresnap.analysis import analyze
from coresnap.corefile import open_core
from tests.analysis.analysis_support import Factory

SMASH = ("-g", "-O0", "-fstack-protector-strong", "-U_FORTIFY_SOURCE")


def test_heap_found_by_drgn_and_by_chunk_headers_agree(analyzed: Factory) -> None:
    a = analyzed("demo/programs/simple.c")
    program = _drgn_program(a.crash.core)
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


def _drgn_program(core: object) -> drgn.Program:
    program = drgn.Program()
    program.set_core_dump(str(core))
    try:
        program.load_default_debug_info()
    except drgn.MissingDebugInfoError:
        pass
    return program


def test_fastbin_and_unsorted_chunks(analyzed: Factory) -> None:
    a = analyzed("cls_uaf_fastbin.c")
    assert a.labels == ["use-after-free", "memory.write"]
    block7 = a.snapshot["threads"][0]["frames"][0]["variables"][0]["value"][7]
    # All eight blocks share a page, so all have the same safe-linked `next`: each matches.
    listed = a.facts("use-after-free").get("also_matching", [])
    assert any(line.startswith(f"{block7:#x} in variable blocks[7]") for line in listed)
    texts = {an.get("name"): an["text"] for an in a.snapshot["annotations"]}
    assert texts["big"] == "`big` points into a freed chunk (free (chunk headers))"

    snapshot = copy.deepcopy(a.snapshot)
    snapshot["classification"] = None
    out = analyze(snapshot, _drgn_program(a.crash.core))  # libc's types: the arena's bins
    facts = next(
        e["facts"] for e in out["classification"]["evidence"] if e["label"] == "use-after-free"
    )
    assert f"{block7:#x} in variable blocks[7] (frame 0) (fastbin 0)" in facts["also_matching"]
    texts = {an.get("name"): an["text"] for an in out["annotations"]}
    assert texts["big"] == "`big` points into a freed chunk (unsorted bin)"
    assert texts["blocks[7]"] == "`blocks[7]` points into a freed chunk (fastbin 0)"


def test_without_siginfo_the_address_is_computed(analyzed: Factory) -> None:
    # As in cores from kernels before NT_SIGINFO (or NetBSD's SI_NOINFO): only the number.
    a = analyzed("cls_null.c")
    snapshot = copy.deepcopy(a.snapshot)
    snapshot["signal"].update(code=None, code_name=None, address=None)
    snapshot["classification"] = None
    with open_core(a.crash.core) as core:
        out = analyze(snapshot, core)
    assert out["classification"]["labels"] == ["null-deref", "memory.read"]
    evidence = out["classification"]["evidence"][0]
    assert evidence["confidence"] == 0.7 and evidence["facts"]["address"] == "0x0"
    assert evidence["facts"]["address_source"].startswith("computed from the instruction")
