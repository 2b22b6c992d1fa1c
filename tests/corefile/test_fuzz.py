"""Hypothesis mutations of real and synthetic cores: only our errors escape, every parse is
bounded in time (``deadline``) and memory (tracemalloc peak), and the whole run stays under a
minute. Each test prints how many cases ran and how they ended (``pytest -s`` shows it)."""

from __future__ import annotations

import os
import tempfile
import tracemalloc
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coresnap.corefile import open_core
from coresnap.corefile.summary import summarize
from coresnap.errors import CoresnapError
from tests.corefile.synthcore import EM_386, EM_PPC64, EM_X86_64, Load, SynthCore, prstatus, siginfo
from tests.crashes import Crash

MAX_PEAK = 64 << 20  # bytes allocated at once while reading one mutated core


def _exercise(data: bytes) -> str:
    """Open ``data`` as a core and touch everything a user of the reader can reach; return
    the outcome ("opened" or the error class)."""
    fd, name = tempfile.mkstemp(prefix="coresnap-fuzz-")
    try:
        os.write(fd, data)
        os.close(fd)
        tracemalloc.start()
        outcome = "opened"
        try:
            with open_core(name) as core:
                summarize(core)
                for m in core.mappings[:8]:
                    try:
                        core.memory.read(m.start, min(64, m.end - m.start))
                        core.memory.read_cstring(m.start, 32)
                    except CoresnapError:
                        pass
        except CoresnapError as e:
            outcome = type(e).__name__
        finally:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        assert peak < MAX_PEAK, f"{peak} bytes at once for a {len(data)}-byte core"
        return outcome
    finally:
        os.unlink(name)


@pytest.fixture(scope="module")
def real_head(null_crash: Crash) -> bytes:
    """The headers and notes of a real core, plus a page of its first segment."""
    raw = null_crash.core.read_bytes()
    with open_core(null_crash.core) as core:
        end = core.segments[0].p_offset + 4096
    return raw[:end]


EXAMPLES = 250
_FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=2000,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _report(what: str, outcomes: Counter[str]) -> None:
    print(f"\ncorefile fuzz, {what}: {sum(outcomes.values())} cases: {dict(outcomes)}")
    assert sum(outcomes.values()) == EXAMPLES
    assert outcomes["opened"] and len(outcomes) > 1  # both paths were exercised


def test_mutated_real_core(real_head: bytes) -> None:
    outcomes: Counter[str] = Counter()

    @_FUZZ
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        raw = bytearray(real_head)
        for _ in range(data.draw(st.integers(1, 8))):
            # Bias toward the headers and notes, where every byte is structure.
            at = data.draw(st.integers(0, min(len(raw) - 1, 0x2000)))
            kind = data.draw(st.sampled_from(["byte", "word", "big", "zero"]))
            if kind == "byte":
                raw[at] = data.draw(st.integers(0, 255))
            elif kind in ("word", "big"):
                value = 0xFFFFFFFF if kind == "big" else data.draw(st.integers(0, 0xFFFFFFFF))
                raw[at : at + 4] = value.to_bytes(4, "little")
            else:
                raw[at : at + 16] = bytes(16)
        cut = data.draw(st.one_of(st.none(), st.integers(0, len(raw))))
        outcomes[_exercise(bytes(raw[:cut]))] += 1

    run()
    _report("mutated real core", outcomes)


_NOTE_TYPES = [1, 2, 3, 6, 0x53494749, 0x46494C45, 0x202, 77]


@st.composite
def synthetic_cores(draw: st.DrawFn) -> bytes:
    elfclass = draw(st.sampled_from([32, 64]))
    order = draw(st.sampled_from(["<", ">"]))
    machine = draw(st.sampled_from([EM_X86_64, EM_386, EM_PPC64, 40, 183, 8, 22, 4, 9999]))
    notes = []
    for _ in range(draw(st.integers(0, 6))):
        n_type = draw(st.sampled_from(_NOTE_TYPES))
        desc = draw(
            st.one_of(
                st.binary(max_size=400),
                st.just(prstatus(order, elfclass=elfclass)),
                st.just(siginfo(order)),
            )
        )
        notes.append((draw(st.sampled_from(["CORE", "LINUX", "GNU", "X"])), n_type, desc))
    loads = [
        Load(draw(st.integers(0, 1 << 40)), draw(st.binary(max_size=64)),
             draw(st.one_of(st.none(), st.integers(0, 1 << 33))))
        for _ in range(draw(st.integers(0, 4)))
    ]  # fmt: skip
    core = SynthCore(
        elfclass=elfclass,
        order=order,
        machine=machine,
        notes=notes,
        loads=loads if elfclass == 64 else [],
        note_align=draw(st.sampled_from([4, 8])),
        pn_xnum=draw(st.booleans()),
        section_header=draw(st.booleans()),
        e_phnum=draw(st.one_of(st.none(), st.integers(0, 0xFFFF))),
    )
    raw = bytearray(core.build())
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(raw) - 1))
        raw[at] = draw(st.integers(0, 255))
    return bytes(raw)


def test_synthetic_cores() -> None:
    outcomes: Counter[str] = Counter()

    @_FUZZ
    @given(data=synthetic_cores())
    def run(data: bytes) -> None:
        outcomes[_exercise(data)] += 1

    run()
    _report("synthetic cores", outcomes)
