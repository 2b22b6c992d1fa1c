"""The unwinder against gdb on real cores of real programs (every thread, every frame).

Each program variant is built, crashed once under the kernel, and its core unwound by us and
by ``gdb -batch -ex 'thread apply all bt'``. Frames must agree one for one: function names
(aliases of one address count as one), pcs where gdb prints them, inlined frames included.
gdb stops at ``main``; we may go on (``__libc_start_call_main``, ``_start``), which is not
compared.
"""

from __future__ import annotations

import signal
from itertools import pairwise
from pathlib import Path

import pytest

from coresnap.corefile import open_core
from coresnap.unwind import unwind_thread
from tests.crashes import build, crash
from tests.unwind.unwind_compare import Agreement, compare_thread
from tests.unwind.unwind_oracles import gdb_backtraces

NO_EH_FRAME = ("-fno-asynchronous-unwind-tables", "-fno-unwind-tables", "-fno-omit-frame-pointer")
# (name, compiler flags, argv mode, expected signal); unw_calls.c unless the name says cxx
VARIANTS = [
    ("O0-threads", ("-g", "-O0"), "threads", signal.SIGSEGV),
    ("O2-threads", ("-g", "-O2"), "threads", signal.SIGSEGV),
    ("O2-omit-fp-handler", ("-g", "-O2", "-fomit-frame-pointer"), "handler", signal.SIGSEGV),
    ("O0-abort", ("-g", "-O0"), "abort", signal.SIGABRT),
    ("stripped-threads", ("-O2", "-s"), "threads", signal.SIGSEGV),
    ("stripped-handler", ("-O2", "-s"), "handler", signal.SIGSEGV),
    ("O2-badcall", ("-g", "-O2"), "badcall", signal.SIGSEGV),
    # No unwind tables: with -g, gcc still writes .debug_frame; without, only frame pointers.
    ("debug-frame-threads", ("-g", "-O0", *NO_EH_FRAME), "threads", signal.SIGSEGV),
    ("fp-only-handler", ("-O0", *NO_EH_FRAME), "handler", signal.SIGSEGV),
    # i386 (multilib): the vDSO's __kernel_vsyscall and __kernel_sigreturn, 32-bit CFI.
    ("i386-O2-threads", ("-m32", "-g", "-O2"), "threads", signal.SIGSEGV),
    ("i386-O2-handler", ("-m32", "-g", "-O2"), "handler", signal.SIGSEGV),
    # C++: namespaces, classes, a template, an anonymous namespace, a virtual call.
    ("cxx-O0", ("-g", "-O0"), "", signal.SIGSEGV),
    ("cxx-O2", ("-g", "-O2"), "", signal.SIGSEGV),
]


@pytest.fixture(scope="module")
def crashes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    out = {}
    for name, flags, mode, sig in VARIANTS:
        source = "unw_cxx.cc" if name.startswith("cxx") else "unw_calls.c"
        exe = build(source, flags=flags, name=f"unw-{name}")
        argv = [mode] if mode else []
        c = crash(exe, argv, cwd=tmp_path_factory.mktemp(name), expect_signal=sig)
        out[name] = (c.exe, c.core)
    return out


def _agreement(exe: Path, core_path: Path) -> tuple[Agreement, dict[int, list]]:
    gdb = gdb_backtraces(exe, core_path)
    total = Agreement()
    ours = {}
    with open_core(core_path) as core:
        for thread in core.threads:
            frames = unwind_thread(core, thread)
            ours[thread.tid] = frames
            assert frames.stop_reason.startswith("outermost"), (thread.tid, frames.stop_reason)
            total.add(compare_thread(thread.tid, frames, gdb[thread.tid]))
    return total, ours


@pytest.mark.parametrize("variant", [v[0] for v in VARIANTS])
def test_every_frame_agrees_with_gdb(variant: str, crashes: dict[str, tuple[Path, Path]]) -> None:
    exe, core = crashes[variant]
    agreement, ours = _agreement(exe, core)
    print(f"{variant}: {agreement.agree}/{agreement.total} frames agree with gdb")
    assert agreement.total >= 5
    assert agreement.wrong == []
    assert agreement.gdb_only == []
    names = [f.function for frames in ours.values() for f in frames]
    if "handler" in variant:
        assert any(f.how == "signal" for frames in ours.values() for f in frames)
    if ("handler" in variant or "abort" in variant) and not variant.startswith("i386"):
        # (x86_64) glibc's pthread_kill tail-jumps into __pthread_kill_implementation: rebuilt from
        # DW_TAG_call_site, as gdb does.
        assert [f.function for fs in ours.values() for f in fs if f.tail_call] == [
            "__pthread_kill_internal"
        ]
    if "threads" in variant:
        assert len(ours) == 4
    if variant.startswith("cxx"):
        assert names[:4] == [
            "(anonymous namespace)::hidden_helper",
            "app::detail::twice<long>",
            "app::Engine::step",
            "app::Engine::start",
        ]
    elif "stripped" not in variant:
        assert "crash_here" in names and "level2" in names
    in_exe = [f for fs in ours.values() for f in fs if f.module == str(exe) and f.how != "initial"]
    if variant.startswith("fp-only"):
        # A caller of a function of the exe (no CFI there) comes from the frame pointer.
        stepped = [b for fs in ours.values() for a, b in pairwise(fs) if a.module == str(exe)]
        assert stepped and all(f.how == "fp" and not f.trusted for f in stepped)
    else:
        assert all(f.trusted for f in in_exe if f.how == "cfi")
    if variant.startswith("debug-frame"):
        assert all(f.how == "cfi" for f in in_exe if f.function == "level2")
    if "badcall" in variant:
        first = ours[next(iter(ours))]
        assert first[0].pc == 0 and first[1].function == "crash_here" and not first[1].trusted


def test_second_core_of_the_same_program_is_faster(crashes: dict[str, tuple[Path, Path]]) -> None:
    """Parsed CFI, symbols and DWARF are cached per build id across cores."""
    import time

    from coresnap.unwind import cache

    exe, core_path = crashes["O2-threads"]
    cache.clear()
    timings = []
    for _ in range(2):
        start = time.perf_counter()
        with open_core(core_path) as core:
            frames = [unwind_thread(core, t) for t in core.threads]
        timings.append(time.perf_counter() - start)
    assert all(f.stop_reason.startswith("outermost") for f in frames)
    assert timings[1] < timings[0] / 3, timings


def test_max_frames_bounds_the_walk(crashes: dict[str, tuple[Path, Path]]) -> None:
    exe, core_path = crashes["O0-threads"]
    with open_core(core_path) as core:
        frames = unwind_thread(core, core.crashed_thread or core.threads[0], max_frames=3)
    assert len(frames) == 3 and frames.stop_reason == "max frames"
    assert [f.how for f in frames] == ["initial", "cfi", "cfi"]


def test_signal_frame_without_libc_cfi_reads_the_kernel_context(
    crashes: dict[str, tuple[Path, Path]],
) -> None:
    """Hide libc (no file, so no CFI for __restore_rt): the trampoline is known by its code and
    the saved context read by the kernel's layout, giving what glibc's CFI gives."""
    exe, core_path = crashes["O2-omit-fp-handler"]

    def without_libc(path: str, build_id: str | None) -> str | None:
        return None if "libc.so" in path else path

    with open_core(core_path) as core:
        thread = core.crashed_thread or core.threads[0]
        by_cfi = unwind_thread(core, thread)
        by_code = unwind_thread(core, thread, file_resolver=without_libc)
    expected = next(f for f in by_cfi if f.how == "signal")
    got = next(f for f in by_code if f.how == "signal")
    assert got.pc == expected.pc and got.trusted
    for name in ("rip", "rsp", "rbp", "rbx", "r12", "rdi", "rax"):
        assert got.registers[name] == expected.registers[name], name
    assert any("libc.so" in note for note in by_code.notes)  # says the file was not used


def test_a_stripped_copy_is_never_served_for_its_twin(tmp_path: Path) -> None:
    """A stripped copy and its twin share a build id: the object cache must not hand the
    stripped one (opened first, as a warm worker may) to a core of the twin (its frames were
    all ?? then)."""
    import shutil
    import subprocess

    from coresnap.unwind import cache

    full = tmp_path / "full"
    shutil.copy2(build("snap_basic.c", flags=("-g", "-O2")), full)
    stripped = tmp_path / "stripped"
    shutil.copy2(full, stripped)
    subprocess.run(["strip", "--strip-all", str(stripped)], check=True)
    build_id = cache.object_for_path(str(stripped), None).build_id
    assert build_id
    cache.clear()
    assert cache.object_for_path(str(stripped), build_id).path == str(stripped)
    twin = cache.object_for_path(str(full), build_id)
    assert twin.path == str(full) and twin.build_id == build_id
    assert twin is cache.object_for_path(str(full), build_id)  # still cached
