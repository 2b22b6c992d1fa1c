"""Use after free through a function pointer: the call's target was loaded from a freed chunk
or from one malloc handed to a new owner; corrupt pointers elsewhere stay bad jumps."""

from __future__ import annotations

import copy

import pytest

from coresnap.analysis import analyze
from coresnap.corefile import open_core
from tests.analysis.analysis_support import O0, Analyzed, Factory

O2 = ("-g", "-O2")
TEXT = "the new owner wrote this text "  # what cls_uaf_call.c copies into the reused chunk
SESSION = 0x30  # sizeof(struct session) + 16 name bytes: a 0x30 chunk, tcache bin 1
BIG_SESSION = 0x4D0  # + 1200 name bytes: too big for the tcache (its largest chunk is 0x410)


def _checked_against_core(a: Analyzed) -> dict:
    """The use-after-free facts, with the slot re-read from the core: it holds the target."""
    facts = a.facts("use-after-free")
    slot, chunk = int(facts["target_slot"], 16), int(facts["chunk"]["address"], 16)
    with open_core(a.crash.core) as core:
        stored = int.from_bytes(core.memory.read(slot, 8), "little")
    assert f"{stored:#x}" == facts["loaded_value"]
    assert slot - chunk == facts["slot_offset"] == 8  # `on_close` follows a long
    return facts


def _target(a: Analyzed) -> str:
    """Where the call went: the pc after a jump, the non-canonical target of a faulting call."""
    jump = a.facts("bad-jump") if "bad-jump" in a.labels else a.facts("exec-nonexec")
    return jump.get("target") or jump["pc"]


@pytest.mark.parametrize("flags", [O0, O2], ids=["O0", "O2"])
@pytest.mark.parametrize(
    ("how", "jump", "size"),
    [
        ("string", "bad-jump", SESSION),
        ("fastbin", "bad-jump", SESSION),
        ("unsorted", "bad-jump", BIG_SESSION),
        ("number", "bad-jump", SESSION),
        ("struct", "exec-nonexec", SESSION),
        ("argument", "bad-jump", SESSION),  # -O0 reuses the callback's register for its argument
        ("thread", "bad-jump", SESSION),  # in a thread arena's heap
    ],
)
def test_call_through_a_reused_chunk(
    analyzed: Factory, flags: tuple[str, ...], how: str, jump: str, size: int
) -> None:
    a = analyzed("cls_uaf_call.c", how, flags=flags)
    assert a.labels[0] == "use-after-free" and jump in a.labels and "memory.exec" in a.labels
    assert "null-deref" not in a.labels  # a small target came from the chunk, not NULL
    facts = _checked_against_core(a)
    assert facts["chunk"] == {
        "address": facts["chunk"]["address"],
        "size": hex(size),
        "state": "in use",
    }
    assert facts["loaded_value"] == _target(a)
    value = int(facts["loaded_value"], 16)
    if how == "number":  # the new owner's v[1] = argc * 21 + 1
        assert facts["loaded_value_is"] == "a small integer (43)"
    elif how == "struct":  # the packet's `next` points at the packet itself: the chunk
        assert facts["loaded_value"] == facts["chunk"]["address"]
        assert facts["loaded_value_is"] == "a pointer into the heap, not into code"
    else:
        text = value.to_bytes(8, "little").decode()
        assert text in TEXT * 2 and facts["loaded_value_is"] == f"text {text!r}"
    arena = "thread arena heap at 0x" if how == "thread" else "main heap"
    assert facts["heap"]["name"].startswith(arena)
    assert a.snapshot["classification"]["confidence"] >= 0.7
    if flags == O0:  # the variables name the stale pointer and the new owner
        assert facts["stale_pointer"]["variable"] == "s"
        assert facts["stale_pointer"]["type"] == "struct session *"
        assert [o["variable"] for o in facts["new_owner"]] == ["owner"]
        notes = [an["text"] for an in a.snapshot["annotations"]]
        stale = f"`s` is a stale pointer: its chunk {facts['chunk']['address']} is in use again"
        assert any(n.startswith(f"{stale} by `owner` (void *)") for n in notes), notes
        assert (
            a.facts("use-after-free")
            and a.snapshot["classification"]["evidence"][0]["confidence"] == 0.9
        )


@pytest.mark.parametrize("flags", [O0, O2], ids=["O0", "O2"])
@pytest.mark.parametrize(
    ("how", "state", "kind"),
    [
        (
            "freed",
            "tcache bin 1",
            "the tcache key glibc writes into every chunk it puts in a tcache bin",
        ),
        ("freed-unsorted", "free (chunk headers)", "the chunk's bk pointer of its free list"),
        (
            "thread-freed",  # in the tcache of a thread, whose arena has heaps of its own
            "tcache bin 1",
            "the tcache key glibc writes into every chunk it puts in a tcache bin",
        ),
    ],
)
def test_call_through_a_freed_chunk(
    analyzed: Factory, flags: tuple[str, ...], how: str, state: str, kind: str
) -> None:
    a = analyzed("cls_uaf_call.c", how, flags=flags)
    assert a.labels[0] == "use-after-free"
    facts = _checked_against_core(a)
    assert facts["chunk"]["state"] == state and facts["loaded_value_is"] == kind
    assert a.snapshot["classification"]["evidence"][0]["confidence"] == 1.0


@pytest.mark.parametrize("flags", [O0, O2], ids=["O0", "O2"])
@pytest.mark.parametrize(
    ("how", "labels", "why"),
    [
        ("global", ["bad-jump", "memory.exec"], "/cls_fp_corrupt), not a heap"),  # `on_event`
        ("stack", ["bad-jump", "memory.exec"], ""),
        ("heap", ["null-deref", "bad-jump", "memory.exec"], ""),
    ],
)
def test_corrupt_pointer_outside_a_freed_chunk_stays_a_bad_jump(
    analyzed: Factory, flags: tuple[str, ...], how: str, labels: list[str], why: str
) -> None:
    a = analyzed("cls_fp_corrupt.c", how, flags=flags)
    assert a.labels == labels
    notes = [
        n for n in a.snapshot["classification"]["notes"] if n.startswith("use-after-free-call")
    ]
    assert notes and why in notes[0]


def test_non_canonical_target_is_the_calls_own_fault(analyzed: Factory) -> None:
    a = analyzed("cls_fp_corrupt.c", "stack")
    facts = a.facts("bad-jump")
    assert facts["code"] == "SI_KERNEL" and facts["target"] == "0x4141414141414141"
    assert facts["instruction"].startswith("call")
    frame0 = a.snapshot["threads"][0]["frames"][0]
    assert int(facts["pc"], 16) == frame0["pc"] and frame0["function"] in ("fire", "main")


def test_reclassify_without_the_core_keeps_the_verdict(analyzed: Factory) -> None:
    snapshot = analyzed("cls_uaf_call.c", "string").snapshot
    again = analyze(copy.deepcopy(snapshot), None)
    assert again["classification"] == snapshot["classification"]
