"""The reader against real kernel cores of small programs, checked against what each program
knows about itself and against eu-readelf / readelf reading the same core."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable

import pytest

from coresnap.corefile import Core, open_core
from tests.corefile.corefile_oracles import (
    eu_int,
    eu_nt_file,
    eu_readelf_notes,
    readelf_build_id,
    readelf_loads,
)
from tests.crashes import Crash

# eu-readelf's register names where they differ from the kernel's user_regs_struct names.
_EU_NAMES = {"rflags": "eflags", "fs.base": "fs_base", "gs.base": "gs_base"}


def _check_against_eu_readelf(core: Core, crash: Crash) -> None:
    eu = eu_readelf_notes(crash.core)
    prstatus = [n for n in eu if n.type == "PRSTATUS"]
    assert [t.tid for t in core.threads] == [int(n.fields["pid"]) for n in prstatus]
    for thread, note in zip(core.threads, prstatus, strict=True):
        assert thread.signal == int(note.fields["cursig"])
        assert thread.pr_info["pr_ppid"] == int(note.fields["ppid"])
        compared = 0
        for eu_name, value in note.fields.items():
            name = _EU_NAMES.get(eu_name, eu_name)
            if name in thread.registers:
                width = 8 * core.ident.elfclass // 8
                assert thread.registers[name] == eu_int(value) % (1 << width), name
                compared += 1
        assert compared >= 16, f"only {compared} registers compared"
    (psinfo,) = [n for n in eu if n.type == "PRPSINFO"]
    assert core.process.pid == int(psinfo.fields["pid"])
    assert core.process.uid == int(psinfo.fields["uid"])
    assert core.process.fname == psinfo.fields["fname"]
    (siginfo,) = [n for n in eu if n.type == "SIGINFO"]
    assert core.signal is not None
    assert core.signal.signo == int(siginfo.fields["si_signo"])
    assert core.signal.code == int(siginfo.fields["si_code"])
    (nt_file,) = [n for n in eu if n.type == "FILE"]
    files = core.view.files
    assert [(f.start, f.end, f.file_offset, f.path) for f in files] == eu_nt_file(nt_file)
    loads = readelf_loads(crash.core)
    assert [(s.p_offset, s.p_vaddr, s.p_filesz, s.p_memsz) for s in core.segments] == [
        load[:4] for load in loads
    ]
    assert [s.perms.replace("-", "") for s in core.segments] == [
        load[4].replace("E", "x").replace("R", "r").replace("W", "w") for load in loads
    ]


@pytest.mark.parametrize("flags", [("-g", "-O0"), ("-g", "-O2")], ids=["O0", "O2"])
def test_null_deref(crash_of: Callable[..., Crash], flags: tuple[str, ...]) -> None:
    crash = crash_of("core_null.c", flags)
    with open_core(crash.core) as core:
        assert (core.os, core.ident.arch, core.ident.elfclass) == ("linux", "x86_64", 64)
        assert core.process.pid == crash.pid
        assert core.process.exe == str(crash.exe)
        # pr_psargs: argv joined by spaces, cut to ELF_PRARGSZ - 1 = 79 bytes (binfmt_elf.c)
        assert core.process.psargs == str(crash.exe)[:79]
        assert [t.tid for t in core.threads] == [crash.pid]
        assert core.crashed_thread is core.threads[0]
        assert core.signal is not None
        assert (core.signal.name, core.signal.code_name, core.signal.addr) == (
            "SIGSEGV",
            "SEGV_MAPERR",
            0,
        )
        assert core.signal.sender_pid is None
        t = core.threads[0]
        assert t.pc == t.registers["rip"] and t.sp == t.registers["rsp"]
        assert t.name == crash.exe.name[:15]
        assert t.fpregs is not None and len(t.fpregs) == 512
        assert t.raw_notes.get("NT_X86_XSTATE", 0) > 512
        assert not core.truncated
        exe = next(m for m in core.modules if m.is_executable)
        assert exe.path == str(crash.exe)
        assert exe.build_id == readelf_build_id(crash.exe)
        assert exe.build_id_source == "core"
        assert exe.file_build_id is None
        libc = next(m for m in core.modules if "libc.so" in m.path)
        assert libc.build_id == readelf_build_id(libc.path)  # type: ignore[arg-type]
        assert any(m.path == "[vdso]" and m.build_id for m in core.modules)
        _check_against_eu_readelf(core, crash)


def test_threads_and_names(threads_crash: Crash) -> None:
    tids = dict(
        (name, int(tid)) for tid, name in re.findall(r"tid (\d+) (\S+)", threads_crash.stdout)
    )
    assert len(tids) == 5
    with open_core(threads_crash.core) as core:
        assert sorted(t.tid for t in core.threads) == sorted(tids.values())
        # The kernel writes the thread that took the signal first, with the NT_SIGINFO.
        assert core.crashed_thread is core.threads[0]
        assert core.threads[0].tid == tids["crasher"]
        assert core.threads[0].siginfo is not None
        assert all(t.siginfo is None for t in core.threads[1:])
        assert core.signal is not None and core.signal.addr == 0
        # Linux cores carry no per-thread names (pr_fname is the group leader's comm), so the
        # names given with pthread_setname_np are in no descriptive note. (Register notes may
        # hold the bytes by chance: vector registers keep the last strings copied through them.)
        main = next(t for t in core.threads if t.tid == tids["main"])
        assert main.name == threads_crash.exe.name[:15]
        assert all(t.name is None for t in core.threads if t is not main)
        registers = (2, 0x202)  # NT_FPREGSET, NT_X86_XSTATE
        assert not any(
            b"waiter-0" in n.desc or b"crasher" in n.desc
            for n in core.notes
            if n.type not in registers
        )
        _check_against_eu_readelf(core, threads_crash)


def test_abort_is_sent_by_itself(crash_of: Callable[..., Crash]) -> None:
    crash = crash_of("core_abort.c", sig=signal.SIGABRT)
    with open_core(crash.core) as core:
        s = core.signal
        assert s is not None
        assert (s.name, s.code_name) == ("SIGABRT", "SI_TKILL")
        assert (s.sender_pid, s.sender_uid, s.addr) == (crash.pid, os.getuid(), None)
        _check_against_eu_readelf(core, crash)


def test_division_by_zero(crash_of: Callable[..., Crash]) -> None:
    crash = crash_of("core_fpe.c", sig=signal.SIGFPE)
    with open_core(crash.core) as core:
        s = core.signal
        assert s is not None and core.crashed_thread is not None
        assert (s.name, s.code_name) == ("SIGFPE", "FPE_INTDIV")
        assert s.addr == core.crashed_thread.pc  # x86 reports the idiv itself
        _check_against_eu_readelf(core, crash)


def test_killed_by_another_process(crash_of: Callable[..., Crash]) -> None:
    crash = crash_of("core_killed.c")
    (sender,) = re.findall(r"sender (\d+)", crash.stdout)
    with open_core(crash.core) as core:
        s = core.signal
        assert s is not None
        assert (s.name, s.code, s.code_name) == ("SIGSEGV", 0, "SI_USER")
        assert (s.sender_pid, s.sender_uid, s.addr) == (int(sender), os.getuid(), None)
        _check_against_eu_readelf(core, crash)


def test_i386_core(m32_crash: Crash) -> None:
    with open_core(m32_crash.core) as core:
        assert (core.ident.arch, core.ident.elfclass) == ("i386", 32)
        assert core.process.pid == m32_crash.pid
        assert core.signal is not None and core.signal.code_name == "SEGV_MAPERR"
        t = core.threads[0]
        assert t.pc == t.registers["eip"] and t.sp == t.registers["esp"]
        exe = next(m for m in core.modules if m.is_executable)
        assert exe.build_id == readelf_build_id(m32_crash.exe)
        _check_against_eu_readelf(core, m32_crash)


def test_link_map_finds_the_same_modules_as_nt_file(null_crash: Crash) -> None:
    """Cores without NT_FILE fall back to the dynamic linker's link_map: on a core that has
    both, the two ways must agree on every ELF object's start, bias and build id."""
    from coresnap.corefile.buildid import find_modules

    with open_core(null_crash.core) as core:
        by_nt_file = {(m.start, m.load_bias, m.build_id) for m in core.modules}
        by_link_map = find_modules([], core.auxv, core.memory, core.ident, core.process.exe)
        assert {(m.start, m.load_bias, m.build_id) for m in by_link_map} == by_nt_file
        assert len(by_link_map) == 4
        assert [m.is_executable for m in by_link_map].count(True) == 1
