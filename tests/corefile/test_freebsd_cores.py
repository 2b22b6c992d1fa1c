"""FreeBSD-format cores re-encoded from real Linux crashes, read end to end by ``open_core``.

No real FreeBSD core is available (see docs/bsd-cores.md): tests/bsdcore.py writes each core
the way FreeBSD's kernel lays it out, from a core the Linux kernel wrote for a real crash of a
real program. What the decoders find is checked against that Linux core (parsed by the
builder's own small reader), against what the test knows (pid, thread names the program
printed, this process's limits), and against LLDB, which reads FreeBSD cores on its own.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import signal
import struct
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from coresnap.corefile import open_core
from coresnap.errors import CoreFormatError
from coresnap.unwind.unwinder import unwind_thread
from tests.bsdcore import LINUX_REGS, FreeBSDCore, build_freebsd_core
from tests.bsdcore_netbsd import read_netbsd_aarch64_core
from tests.crashes import Crash, build, crash

KINDS = {  # name -> (program, compiler flags)
    "null": ("bsd_null.c", ("-g", "-O0")),
    "threads": ("bsd_threads.c", ("-g", "-O2")),
    "null-i386": ("bsd_null.c", ("-g", "-O0", "-m32")),
}
# Linux user_regs_struct name -> FreeBSD struct reg name, where they differ.
RENAMED = {"eflags": "rflags"}


@dataclass
class Case:
    crash: Crash
    core: FreeBSDCore
    names: dict[int, str]  # Linux tid -> the name the program gave the thread


@pytest.fixture(scope="module")
def case_of(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Case]:
    cache: dict[str, Case] = {}
    root = tmp_path_factory.mktemp("freebsd-cores")

    def get(kind: str) -> Case:
        if kind not in cache:
            source, flags = KINDS[kind]
            try:
                exe = build(source, flags=flags)
            except subprocess.CalledProcessError as e:
                pytest.skip(f"cannot build {kind} ({' '.join(flags)}): {e.stderr[:200]}")
            c = crash(exe, cwd=root / kind, expect_signal=signal.SIGSEGV)
            names = {
                int(tid): name
                for line in c.stdout.splitlines()
                if line.startswith("tid ")
                for _, tid, name in [line.split()]
            }
            out = c.core.with_name(c.core.name + ".freebsd")
            built = build_freebsd_core(c.core, out, cwd=c.exe.parent, thread_names=names)
            cache[kind] = Case(c, built, names)
        return cache[kind]

    return get


@pytest.mark.parametrize("kind", KINDS)
def test_threads_registers_names_and_order(case_of: Callable[[str], Case], kind: str) -> None:
    case = case_of(kind)
    linux = case.core.source
    with open_core(case.core.path) as core:
        view = core.view
        assert view.os == "freebsd" and core.ident.osabi == 9  # ELFOSABI_FREEBSD
        assert [t.tid for t in view.threads] == case.core.lwpids
        assert [t.tid - 100000 for t in view.threads] == [t.tid for t in linux.threads]
        assert view.crashed_index == 0 and all(t.signal == 11 for t in view.threads)
        crasher = view.threads[0].tid - 100000
        if kind == "threads":
            assert case.names[crasher] == "bsd-crasher" and len(view.threads) == 3
            assert [t.name for t in view.threads] == [case.names[t.tid] for t in linux.threads]
        else:
            assert crasher == case.crash.pid and len(view.threads) == 1
            assert view.threads[0].name == case.crash.exe.name[:19]  # p_comm
        wide = linux.elfclass == 64
        for t, lt in zip(view.threads, linux.threads, strict=True):
            assert (t.pc, t.sp) == (
                lt.regs["rip" if wide else "eip"],
                lt.regs["rsp" if wide else "esp"],
            )
            for name in LINUX_REGS[linux.elfclass].split():
                if name in ("orig_rax", "orig_eax", "fs_base", "gs_base"):
                    continue  # not in FreeBSD's struct reg
                mask = 0xFFFF if name in ("fs", "gs", "es", "ds") and wide else (1 << 64) - 1
                assert (
                    t.registers[RENAMED.get(name, name) if wide else name] == lt.regs[name] & mask
                )
            assert t.fpregs and t.fpregs[:108] == lt.fpregs[:108]
            assert t.raw_notes == ({"NT_X86_XSTATE": len(lt.xstate)} if lt.xstate else {})


@pytest.mark.parametrize("kind", ["null", "threads"])
def test_signal_from_ptlwpinfo(case_of: Callable[[str], Case], kind: str) -> None:
    case = case_of(kind)
    with open_core(case.core.path) as core:
        sig = core.view.signal
        assert sig is not None and sig.source == "siginfo"
        assert (sig.signo, sig.name, sig.code_name, sig.addr) == (11, "SIGSEGV", "SEGV_MAPERR", 0)
        assert core.view.threads[0].siginfo is sig
        assert all(t.siginfo is None for t in core.view.threads[1:])


@pytest.mark.parametrize("kind", ["null", "threads", "null-i386"])
def test_process_and_procstat_facts(case_of: Callable[[str], Case], kind: str) -> None:
    case = case_of(kind)
    with open_core(case.core.path) as core:
        p, d = core.view.process, core.view.details
        assert (p.pid, p.ppid, p.uid, p.gid) == (
            case.crash.pid,
            os.getpid(),
            os.getuid(),
            os.getgid(),
        )
        assert p.exe == str(case.crash.exe) and p.fname == case.crash.exe.name[:16]
        assert p.psargs == case.core.source.psinfo["psargs"]
        assert p.state == "SRUN"  # the dumping thread's kinfo_proc
        assert d["osrel"] == d["pr_osreldate"] == 1302001
        assert d["umask"] == case.core.umask and d["groups"] == os.getgroups()
        limits = d["rlimits"]
        assert isinstance(limits, dict) and len(limits) == 15
        assert limits["nofile"] == resource.getrlimit(resource.RLIMIT_NOFILE)
        assert limits["core"] == ((1 << 63) - 1,) * 2  # RLIM_INFINITY, as the harness set it
        files = {f["kf_fd_name"] or f["kf_fd"]: f for f in d["files"]}  # type: ignore[attr-defined]
        assert files["cwd"]["kf_path"] == str(case.crash.exe.parent)
        assert [files[fd]["kf_type"] for fd in (0, 1, 2)] == ["pipe"] * 3
        kp = d["kinfo_proc"]
        assert isinstance(kp, dict) and kp["ki_numthreads"] == len(core.view.threads)
        assert kp["ki_emul"] == f"FreeBSD ELF{core.ident.elfclass}"
        stack = core.memory.find_mapping(core.view.threads[0].sp or 0)
        assert stack is not None and stack.start <= int(d["psstrings"]) < stack.end  # type: ignore[call-overload]


@pytest.mark.parametrize("kind", ["null", "threads", "null-i386"])
def test_vmmap_mappings_and_memory(case_of: Callable[[str], Case], kind: str) -> None:
    case = case_of(kind)
    linux = case.core.source
    with open_core(case.core.path) as core:
        got = {(m.start, m.end, m.file_offset, m.path) for m in core.view.files}
        assert got == {(s, e, off, path) for s, e, off, path in linux.files}
        perms = {ld.vaddr: ld.flags for ld in linux.loads}
        for m in core.view.files:
            f = perms[m.start]
            assert m.perms == "".join(
                c if f & b else "-" for c, b in zip("rwx", (4, 2, 1), strict=True)
            )
        # Text is not in the core (FreeBSD marks it NOCOREDUMP): it must come from the file
        # the VMMAP entry names, at kve_offset.
        pc = core.view.threads[0].pc or 0
        text = next(m for m in core.view.files if m.start <= pc < m.end)
        with open(str(text.path), "rb") as f:
            f.seek(text.file_offset + pc - text.start)
            assert core.memory.read(pc, 16) == f.read(16)
        assert core.memory.find_segment(pc) is None
        # The stack is in the core, byte for byte what the Linux kernel dumped.
        sp = core.view.threads[0].sp or 0
        seg = next(ld for ld in linux.loads if ld.vaddr <= sp < ld.vaddr + ld.memsz)
        assert core.memory.read(sp, 64) == seg.data[sp - seg.vaddr : sp - seg.vaddr + 64]
        # AT_EXECPATH points into the dumped stack at the path the program was run as.
        execpath = next(a.a_val for a in core.view.auxv if a.name == "AT_EXECPATH")
        assert core.memory.read_cstring(execpath) == str(case.crash.exe).encode()


LLDB_THREAD = re.compile(r"thread #\d+: tid = (\d+), (0x[0-9a-f]+), name = '([^']*)'")


@pytest.mark.skipif(
    shutil.which("lldb") is None, reason="lldb not installed (tools/setup-system.sh)"
)
@pytest.mark.parametrize("kind", ["null", "threads", "null-i386"])
def test_lldb_reads_the_same_core(case_of: Callable[[str], Case], kind: str) -> None:
    case = case_of(kind)
    cmd = [
        "lldb",
        "--batch",
        "-x",
        "-c",
        str(case.core.path),
        "-o",
        "target list",
        "-o",
        "thread list",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    arch = "x86_64" if case.core.source.elfclass == 64 else "i386"
    assert f"arch={arch}-*-freebsd" in out
    with open_core(case.core.path) as core:
        ours = [(t.tid, t.pc, t.name) for t in core.view.threads]
        theirs = [(int(tid), int(pc, 16), name) for tid, pc, name in LLDB_THREAD.findall(out)]
        assert theirs == ours and "stop reason = signal SIGSEGV" in out
        if arch == "x86_64":
            # LLDB 14 reads an i386 pr_pid 4 bytes too far (past the 112-byte prpsinfo_t) and
            # reports pid 0 there; on amd64 it agrees.
            assert f"pid={core.view.process.pid}," in out


def _corrupt(case: Case, tmp_path: Path, ntype: int, at: int, value: int) -> tuple[Path, int]:
    """A copy of the core with the int at desc offset ``at`` of note ``ntype`` replaced."""
    data = bytearray(case.core.path.read_bytes())
    offset = case.core.note_offsets[ntype] + 12 + 8 + at  # Elf_Note, "FreeBSD\0", desc
    data[offset : offset + 4] = struct.pack("<i", value)
    out = tmp_path / f"bad-{ntype}-{at}.core"
    out.write_bytes(data)
    return out, offset


def test_malformed_procstat_notes_name_their_file_offsets(
    case_of: Callable[[str], Case], tmp_path: Path
) -> None:
    case = case_of("null")
    first = struct.unpack_from("<i", case.core.path.read_bytes(),
                               case.core.note_offsets[10] + 24)[0]  # fmt: skip
    for ntype, at, value in (
        (10, 4 + first, 0),  # a kve_structsize of 0 with records after it
        (10, 4, 1 << 30),  # a kve_structsize past the end of the note
        (10, 0, -5),  # the note's structsize
        (8, 0, 1 << 24),  # an absurd kinfo_proc structsize
        (17, 0, 12),  # NT_PTLWPINFO structsize too small for struct ptrace_lwpinfo
    ):
        path, offset = _corrupt(case, tmp_path, ntype, at, value)
        with pytest.raises(CoreFormatError) as err:
            open_core(path)
        assert err.value.offset == offset, (ntype, at, value, err.value)


CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "lldb"
ARM64_SOURCES = sorted(CORPUS.glob("netbsd-*.aarch64.core")) if CORPUS.is_dir() else []


@pytest.mark.skipif(not ARM64_SOURCES, reason=f"LOUD: no corpus at {CORPUS}: arm64 not checked")
@pytest.mark.parametrize("source", ARM64_SOURCES, ids=lambda p: p.name)
def test_arm64_cores_from_real_netbsd_crashes(source: Path, tmp_path: Path) -> None:
    """FreeBSD arm64 layout on real aarch64 crashes: NetBSD's kernel wrote the registers."""
    exe = source.with_suffix("")  # the corpus ships each core's executable beside it
    src = read_netbsd_aarch64_core(source, exe)
    built = build_freebsd_core(src, tmp_path / "arm64.core", cwd=tmp_path, exe=str(exe))
    with open_core(built.path) as core:
        view = core.view
        assert (core.ident.arch, core.ident.osabi, view.os) == ("aarch64", 9, "freebsd")
        assert [t.tid for t in view.threads] == [100000 + t.tid for t in src.threads]
        for t, s in zip(view.threads, src.threads, strict=True):
            assert all(t.registers[f"x{i}"] == s.regs[f"x{i}"] for i in range(31))  # x30: lr
            assert t.registers["pc"] == s.regs["pc"]  # FreeBSD's elr
            assert (t.pc, t.sp, t.registers["spsr"]) == (s.regs["pc"], s.regs["sp"], s.regs["spsr"])
            assert t.fpregs == s.fpregs
        crashed = view.threads[view.crashed_index or 0]
        assert _function_at(exe, crashed.pc or 0) == "bar"  # LLDB's asserted top frame
        assert view.signal is not None and (view.signal.name, view.signal.source) == (
            "SIGSEGV", "cursig")  # fmt: skip
        sp = crashed.sp or 0
        seg = next(ld for ld in src.loads if ld.vaddr <= sp < ld.vaddr + ld.filesz)
        assert core.memory.read(sp, 32) == seg.data[sp - seg.vaddr : sp - seg.vaddr + 32]
        # LLDB's TestNetBSDCore asserts these first frames for the signalled LWP.
        frames = [f.function for f in unwind_thread(core, crashed)]
        assert frames[:3] == ["bar", "foo", "lwp_main" if "2lwp" in source.name else "main"]
        if shutil.which("lldb"):
            cmd = ["lldb", "--batch", "-x", "-c", str(built.path), "-o", "thread list"]
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
            theirs = [(int(tid), int(pc, 16)) for tid, pc, _ in LLDB_THREAD.findall(out.stdout)]
            assert theirs == [(t.tid, t.pc) for t in view.threads]


def _function_at(exe: Path, pc: int) -> str | None:
    with open(exe, "rb") as f:
        for sym in ELFFile(f).get_section_by_name(".symtab").iter_symbols():
            start, size = sym["st_value"], sym["st_size"]
            if sym["st_info"]["type"] == "STT_FUNC" and start <= pc < start + size:
                return str(sym.name)
    return None


@pytest.mark.parametrize("kind", KINDS)
def test_unwinding_the_freebsd_core_matches_the_linux_one(
    case_of: Callable[[str], Case], kind: str
) -> None:
    """The whole path: FreeBSD notes -> registers and VMMAP -> coresnap's unwinder, frame for
    frame the same as on the Linux core the FreeBSD one was made from."""
    case = case_of(kind)

    def frames(path: Path) -> dict[int, list[str | None]]:
        with open_core(path) as core:
            out = {}
            for t in core.view.threads:
                bt = unwind_thread(core, t)
                assert bt.stop_reason == "outermost", (t.tid, bt.stop_reason, bt.notes)
                out[t.tid % 100000] = [f.function for f in bt]
            return out

    freebsd, linux = frames(case.core.path), frames(case.crash.core)
    assert freebsd == linux
    crashed = freebsd[case.core.lwpids[0] - 100000]
    if kind == "threads":
        assert crashed[0] == "crasher"
    else:
        assert crashed[:3] == ["store", "fault_here", "main"]


def test_pn_xnum_header_as_freebsd_writes_it(
    case_of: Callable[[str], Case], tmp_path: Path
) -> None:
    """FreeBSD's puthdr: e_phnum = PN_XNUM, the count in section header 0's sh_info."""
    case = case_of("threads")
    xnum = build_freebsd_core(case.crash.core, tmp_path / "xnum.core", cwd=tmp_path,
                              thread_names=case.names, xnum=True)  # fmt: skip
    head = xnum.path.read_bytes()[:64]
    assert struct.unpack_from("<H", head, 56)[0] == 0xFFFF
    with open_core(xnum.path) as big, open_core(case.core.path) as plain:
        assert len(big.segments) == len(plain.segments) > 0
        assert [t.tid for t in big.view.threads] == [t.tid for t in plain.view.threads]
        sp = big.view.threads[0].sp or 0
        assert big.memory.read(sp, 64) == plain.memory.read(sp, 64)
