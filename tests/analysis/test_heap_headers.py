"""free() aborts: a real chunk whose own header was overwritten (heap-corruption) against a
pointer malloc never returned (invalid-free), told apart by the heap walk."""

from __future__ import annotations

import pytest

from coresnap.analysis.chunks import REACHED_TOP
from coresnap.corefile import open_core
from tests.analysis.analysis_support import O0, Factory

O2 = ("-g", "-O2")


def _variable(snapshot: dict, function: str, name: str) -> int:
    thread = next(t for t in snapshot["threads"] if t.get("crashed"))
    frame = next(f for f in thread["frames"] if f["function"] == function)
    return next(v["value"] for v in frame["variables"] if v["name"] == name)


@pytest.mark.parametrize("flags", [O0, O2], ids=["O0", "O2"])
@pytest.mark.parametrize(
    ("how", "message", "size_field", "chunk_size"),
    [
        ("huge", "free(): invalid pointer", "0xfffffffffffffff0", 0x30),
        ("text", "double free or corruption (out)", "0x4141414141414141", 0x30),
        ("mmapped", "munmap_chunk(): invalid pointer", "0x4242424242424242", 0x30),
        ("small", "free(): invalid size", "0x11", 0x30),
        ("big", "free(): invalid pointer", "0xfffffffffffffff0", 0x7E0),
        ("thread", "free(): invalid pointer", "0xfffffffffffffff0", 0x30),
    ],
)
def test_underflow_over_the_chunks_own_header(
    analyzed: Factory,
    flags: tuple[str, ...],
    how: str,
    message: str,
    size_field: str,
    chunk_size: int,
) -> None:
    a = analyzed("cls_heap_underflow.c", how, flags=flags)
    assert a.labels == ["heap-corruption"]  # not invalid-free: the pointer is malloc's own
    facts = a.facts("heap-corruption")
    assert facts["message"] == message and facts["size_field"] == size_field
    block, chunk = int(facts["block"], 16), int(facts["chunk"], 16)
    assert block == chunk + 0x10
    if flags == O0:
        assert block == _variable(a.snapshot, "underflow", "buffer")
    previous = facts["previous_chunk"]  # `first`: the walk reaches the header through it
    assert int(previous["address"], 16) + int(previous["size"], 16) == chunk
    assert int(previous["size"], 16) == int(facts["probable_size"], 16) == chunk_size
    with open_core(a.crash.core) as core:  # the header as the core has it
        assert hex(int.from_bytes(core.memory.read(chunk + 8, 8), "little")) == size_field
    assert facts["heap_walk"].startswith(f"the size field of the chunk at {facts['chunk']}: ")
    # A thread's chunks are in its arena's heaps (mmapped at a multiple of 64 MiB).
    arena = "thread arena heap at 0x" if how == "thread" else "main heap"
    assert facts["heap"]["name"].startswith(arena)


@pytest.mark.parametrize("flags", [O0, O2], ids=["O0", "O2"])
@pytest.mark.parametrize("how", ["", "interior", "stack", "global"])
def test_pointer_malloc_never_returned_stays_invalid_free(
    analyzed: Factory, flags: tuple[str, ...], how: str
) -> None:
    a = analyzed("cls_invalid_free.c", *([how] if how else []), flags=flags)
    assert a.labels == ["invalid-free"]
    facts = a.facts("invalid-free")
    assert facts["message"] == "free(): invalid pointer"
    assert facts["allocator"]["heap_walk"] == f"main heap: {REACHED_TOP}"  # no header is corrupt
