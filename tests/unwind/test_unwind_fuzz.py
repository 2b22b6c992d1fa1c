"""Hostile input: cores are attacker-controlled, so are the stacks, registers and the vDSO
image the unwinder reads from them. Whatever the bytes, it must end with a reason, never raise."""

from __future__ import annotations

import dataclasses
import signal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coresnap.corefile import open_core
from coresnap.errors import DwarfExpressionError, UnwindError
from coresnap.unwind import cache, dwarfexpr, unwind_thread
from coresnap.unwind.objfile import object_from_bytes
from tests.crashes import build, crash

MASK = (1 << 64) - 1


@given(st.binary(max_size=64), st.lists(st.integers(0, MASK), max_size=2))
@settings(max_examples=400, deadline=None)
def test_any_expression_ends_in_a_value_or_our_error(expr: bytes, initial: list[int]) -> None:
    try:
        value = dwarfexpr.evaluate(
            expr,
            address_size=8,
            register=lambda n: (n * 8) & MASK,
            read_memory=lambda addr, size: addr & ((1 << (8 * min(size, 8))) - 1),
            initial=initial,
        )
    except DwarfExpressionError:
        return
    assert 0 <= value <= MASK


def test_expression_semantics() -> None:
    """A few programs worked by hand from DWARF 5 section 2.5."""

    def run(code: list[int], initial: tuple[int, ...] = ()) -> int:
        return dwarfexpr.evaluate(
            bytes(code),
            address_size=8,
            register=lambda n: 0x1000 * n,
            read_memory=lambda a, s: a + 1,
            initial=initial,
        )

    assert run([0x77, 0x10]) == 0x7010  # DW_OP_breg7 16: rsp + 16
    assert run([0x77, 0x70]) == 0x7000 - 16  # breg7 -16 (sleb128 0x70)
    assert run([0x77, 0x08, 0x06]) == 0x7009  # breg7 8; deref
    assert run([0x35, 0x33, 0x1C]) == 2  # lit5 lit3 minus
    assert run([0x33, 0x35, 0x2D]) == 1  # lit3 lit5 lt
    assert run([0x09, 0xFF, 0x30, 0x2D]) == 1  # const1s -1; lit0; lt (signed)
    assert run([0x23, 0x80, 0x01], (0x10,)) == 0x90  # plus_uconst 128 on the pushed CFA
    with pytest.raises(DwarfExpressionError):
        run([0x1C])  # minus on an empty stack
    with pytest.raises(DwarfExpressionError):
        run([0xE0])  # DW_OP_lo_user: not ours to guess
    with pytest.raises(DwarfExpressionError):
        run([0x30, 0x94])  # DW_OP_deref_size without its size byte
    with pytest.raises(DwarfExpressionError):
        run([0x0C, 0x01])  # DW_OP_const4u with one byte of four


@pytest.fixture(scope="module")
def threads_core(tmp_path_factory: pytest.TempPathFactory) -> Path:
    exe = build("unw_calls.c", flags=("-g", "-O2"), name="unw-fuzz")
    return crash(
        exe, ["threads"], cwd=tmp_path_factory.mktemp("fuzz"), expect_signal=signal.SIGSEGV
    ).core


def test_random_registers_end_with_a_reason(threads_core: Path) -> None:
    with open_core(threads_core) as core:
        thread = core.threads[0]
        stack = next(m for m in core.mappings if m.start <= thread.registers["rsp"] < m.end)
        texts = [m for m in core.mappings if "x" in m.perms]

        @given(
            st.sampled_from([0, 1, MASK, *(m.start for m in texts), *(m.end - 1 for m in texts)])
            | st.integers(0, MASK),
            st.integers(stack.start, stack.end - 1) | st.integers(0, MASK),
            st.integers(stack.start, stack.end - 1) | st.integers(0, MASK),
        )
        @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
        def walk(pc: int, sp: int, fp: int) -> None:
            regs = {**thread.registers, "rip": pc, "rsp": sp, "rbp": fp}
            hostile = dataclasses.replace(thread, registers=regs, pc=pc, sp=sp)
            frames = unwind_thread(core, hostile, max_frames=64)
            assert frames.stop_reason and len(frames) <= 64

        walk()


def test_corrupt_vdso_images_are_refused_or_survived(threads_core: Path) -> None:
    with open_core(threads_core) as core:
        vdso = next(m for m in core.modules if m.path == "[vdso]")
        image = core.memory.read(vdso.start, 0x2000)

    @given(st.lists(st.tuples(st.integers(0, len(image) - 1), st.integers(0, 255)), max_size=24))
    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    def mutate(flips: list[tuple[int, int]]) -> None:
        data = bytearray(image)
        for offset, value in flips:
            data[offset] = value
        try:
            obj = object_from_bytes("[vdso]", bytes(data))
        except UnwindError:
            return
        for address in range(0, 0x2000, 0x80):
            obj.find_frame(address)
            obj.symbols.lookup(address)

    mutate()


@pytest.mark.parametrize(
    "content", [b"", b"not an ELF file\n", b"\x7fELF\x02\x01\x01" + b"\xff" * 57]
)
def test_unusable_module_files_are_noted_not_raised(
    threads_core: Path, tmp_path: Path, content: bytes
) -> None:
    bogus = tmp_path / "bogus.so"
    bogus.write_bytes(content)
    cache.clear()  # else the real files, cached by build id from earlier tests, are served
    with open_core(threads_core) as core:
        frames = unwind_thread(core, core.threads[0], file_resolver=lambda p, b: str(bogus))
    assert frames.stop_reason
    assert any("bogus.so" in note for note in frames.notes)
