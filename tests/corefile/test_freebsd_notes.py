"""FreeBSD note decoders on hand-made note bytes: each layout, each fold rule, each bad input.

The bytes are packed by tests/bsdcore.py, which lays out the structs from their C declarations
(natural alignment per ABI), not from the decoders' offset tables.
"""

from __future__ import annotations

import struct
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coresnap.corefile import freebsd
from coresnap.corefile import freebsd_notes as N
from coresnap.corefile import freebsd_procstat as P
from coresnap.corefile.model import ElfIdent, Note
from coresnap.errors import CoreFormatError
from tests.bsdcore import (
    KINFO_FILE,
    KINFO_PROC,
    KINFO_VMENTRY,
    CStruct,
    amd64_reg,
    i386_reg,
    packed,
    prpsinfo,
    prstatus,
    ptlwpinfo,
    thrmisc,
)

AMD64 = ElfIdent(64, "<", 62, "x86_64", 9)
I386 = ElfIdent(32, "<", 3, "i386", 9)
ARM64 = ElfIdent(64, "<", 183, "aarch64", 9)
BASE = 0x1000  # a pretend file offset of each desc


def mk(ntype: int, desc: bytes, name: str = "FreeBSD", at: int = BASE) -> Note:
    return Note(name, ntype, desc, at - 20, at)


X86_64_REGS = {n: 0x1000 + i for i, n in enumerate(
    ["r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs"])}  # fmt: skip


def test_prstatus_amd64_struct_reg_order() -> None:
    desc = prstatus(64, 1302001, 11, 100123, amd64_reg(X86_64_REGS))
    assert len(desc) == 224  # sizeof(prstatus_t) on amd64
    fields, regs = N.decode_prstatus(mk(1, desc), AMD64)
    assert fields["pr_version"] == 1 and fields["pr_statussz"] == 224
    assert fields["pr_gregsetsz"] == 176 and fields["pr_osreldate"] == 1302001
    assert (fields["pr_cursig"], fields["pr_pid"]) == (11, 100123)
    for name in [
        "r15",
        "r14",
        "r13",
        "r12",
        "r11",
        "r10",
        "r9",
        "r8",
        "rdi",
        "rsi",
        "rbp",
        "rbx",
        "rdx",
        "rcx",
        "rax",
        "rip",
        "cs",
        "rsp",
        "ss",
    ]:
        assert regs[name] == X86_64_REGS[name], name
    assert regs["rflags"] == X86_64_REGS["eflags"]
    assert (regs["fs"], regs["gs"], regs["es"], regs["ds"]) == (
        X86_64_REGS["fs"], X86_64_REGS["gs"], X86_64_REGS["es"], X86_64_REGS["ds"])  # fmt: skip


def test_prstatus_i386_and_arm64() -> None:
    order = [
        "fs",
        "es",
        "ds",
        "edi",
        "esi",
        "ebp",
        "isp",
        "ebx",
        "edx",
        "ecx",
        "eax",
        "trapno",
        "err",
        "eip",
        "cs",
        "eflags",
        "esp",
        "ss",
        "gs",
    ]
    values = {n: 0x100 + i for i, n in enumerate(order)}
    desc = prstatus(32, 1400000, 6, 100200, i386_reg(values))
    assert len(desc) == 104
    fields, regs = N.decode_prstatus(mk(1, desc), I386)
    assert (fields["pr_pid"], fields["pr_cursig"]) == (100200, 6)
    assert regs == values

    # sys/arm64/include/reg.h: x[30], lr, sp, elr, uint32 spsr (+ 4 bytes of padding).
    reg = struct.pack("<30QQQQI4x", *range(30), 0xAA, 0xBB, 0xCC, 0x60000000)
    fields, regs = N.decode_prstatus(mk(1, prstatus(64, 1400000, 11, 100300, reg)), ARM64)
    assert regs["x0"] == 0 and regs["x29"] == 29
    # lr and elr are named x30 and pc, as Linux and NetBSD (and the unwinder) name them.
    assert (regs["x30"], regs["sp"], regs["pc"], regs["spsr"]) == (0xAA, 0xBB, 0xCC, 0x60000000)
    view = freebsd.fold([mk(1, prstatus(64, 1400000, 11, 100300, reg))], ARM64)
    assert (view.threads[0].pc, view.threads[0].sp) == (0xCC, 0xBB)


def test_prstatus_cut_short_names_the_offset() -> None:
    desc = prstatus(64, 1, 11, 100123, amd64_reg(X86_64_REGS))[:100]
    with pytest.raises(CoreFormatError) as err:
        N.decode_prstatus(mk(1, desc), AMD64)
    assert err.value.offset == BASE + 48  # pr_reg
    with pytest.raises(CoreFormatError) as err:
        N.decode_prstatus(mk(1, desc[:20]), AMD64)
    assert err.value.offset == BASE


def test_prpsinfo_both_abis_and_the_pre_pr_pid_layout() -> None:
    d = N.decode_prpsinfo(mk(3, prpsinfo(64, "a" * 20, "a b c" + " " * 3, 4242)), AMD64)
    assert d == {"pr_version": 1, "pr_psinfosz": 120, "pr_fname": "a" * 16,
                 "pr_psargs": "a b c", "pr_pid": 4242}  # fmt: skip
    desc = prpsinfo(32, "prog", "prog -x", 77)
    assert len(desc) == 112
    assert N.decode_prpsinfo(mk(3, desc), I386)["pr_pid"] == 77
    assert "pr_pid" not in N.decode_prpsinfo(mk(3, desc[:108]), I386)  # FreeBSD < 8


def test_thrmisc_and_ptlwpinfo_siginfo() -> None:
    assert N.decode_thrmisc(mk(7, thrmisc("worker-with-a-long-name"))) == {
        "pr_tname": "worker-with-a-long-"  # MAXCOMLEN is 19
    }
    si = dict(signo=11, errno=0, code=1, pid=0, uid=0, addr=0xDEAD0)
    mask = (1 << 29).to_bytes(16, "little")  # SIGUSR1 (30) blocked
    for ident, bits in ((AMD64, 64), (I386, 32)):
        desc = ptlwpinfo(bits, 100500, mask, bytes(16), "crasher", si)
        assert len(desc) == 4 + (160 if bits == 64 else 140)
        d, info = N.decode_ptlwpinfo(mk(17, desc), ident)
        assert (d["pl_lwpid"], d["pl_event"], d["pl_flags"]) == (100500, 1, N.PL_FLAG_SI)
        assert d["pl_tdname"] == "crasher" and d["pl_sigmask"] == mask.hex()
        assert info is not None
        assert (info.name, info.code_name, info.addr) == ("SIGSEGV", "SEGV_MAPERR", 0xDEAD0)
    sent = dict(si, signo=10, code=0x10007, pid=99, uid=1000, addr=0)  # SIGBUS by thr_kill
    _, info = N.decode_ptlwpinfo(mk(17, ptlwpinfo(64, 1, mask, mask, "t", sent)), AMD64)
    assert info is not None and (info.name, info.code_name) == ("SIGBUS", "SI_LWP")
    assert (info.sender_pid, info.sender_uid, info.addr) == (99, 1000, None)
    d, info = N.decode_ptlwpinfo(mk(17, ptlwpinfo(64, 2, mask, mask, "idle", None)), AMD64)
    assert info is None and d["pl_event"] == 0


def test_ptlwpinfo_structsize_checked() -> None:
    desc = ptlwpinfo(64, 1, bytes(16), bytes(16), "t", None)
    with pytest.raises(CoreFormatError) as err:
        N.decode_ptlwpinfo(mk(17, struct.pack("<i", 1 << 30) + desc[4:]), AMD64)
    assert err.value.offset == BASE and "structsize" in err.value.what
    with pytest.raises(CoreFormatError):
        N.decode_ptlwpinfo(mk(17, desc[:100]), AMD64)


ARM32 = ElfIdent(32, "<", 40, "arm", 9)
IDENTS: dict[int | str, ElfIdent] = {64: AMD64, 32: I386, "ilp32t64": ARM32}


def _kinfo_proc(abi: int | str, **over: object) -> bytes:
    kp = CStruct(KINFO_PROC, abi)
    values: dict[str, object] = dict(
        ki_structsize=kp.size, ki_pid=501, ki_ppid=1, ki_pgid=501, ki_sid=400, ki_uid=1001,
        ki_ruid=1002, ki_svuid=1003, ki_rgid=20, ki_svgid=21, ki_ngroups=2, ki_groups=[20, 0],
        ki_size=1 << 20, ki_rssize=12, ki_start=b"", ki_flag=0x10000080, ki_stat=3, ki_nice=-5,
        ki_tdname="a-thread-name-16", ki_moretdname="xyz", ki_comm="daemon", ki_emul="FreeBSD ELF",
        ki_jid=7, ki_numthreads=2, ki_tid=100777,
    )  # fmt: skip
    values.update(over)
    return kp.pack(**values)


# gdb's fbsd-tdep.c kinfo_proc_layout_64 / _i386 / _32 (the offsets gdb reads cores with):
# ki_pid, ki_sid, ki_uid, ki_ngroups, ki_groups, ki_size, ki_start, ki_nice, ki_comm, ki_tdev,
# ki_rusage, ki_rusage_ch.
GDB_KINFO_PROC = {
    64: (0x48, 0x58, 0xA8, 0xBC, 0xC0, 0x100, 0x150, 0x185, 0x1BF, 0x230, 0x260, 0x2F0),
    32: (0x28, 0x38, 0x88, 0x9C, 0xA0, 0xE0, 0x118, 0x135, 0x16F, 0x1E0, 0x210, 0x258),
    "ilp32t64": (0x28, 0x38, 0x88, 0x9C, 0xA0, 0xE0, 0x118, 0x145, 0x17F, 0x1F0, 0x220, 0x278),
}
SIZES = {64: 1088, 32: 768, "ilp32t64": 816}  # KINFO_PROC_SIZE / KINFO_PROC32_SIZE per arch


@pytest.mark.parametrize("abi", [64, 32, "ilp32t64"])
def test_kinfo_proc_fields_at_their_offsets(abi: int | str) -> None:
    ident = IDENTS[abi]
    kp = CStruct(KINFO_PROC, abi)
    assert kp.size == SIZES[abi]
    names = "ki_pid ki_sid ki_uid ki_ngroups ki_groups ki_size ki_start ki_nice ki_comm ki_tdev"
    names += " ki_rusage ki_rusage_ch"
    assert tuple(kp.offset(n) for n in names.split()) == GDB_KINFO_PROC[abi]
    start = struct.pack({64: "<qq", 32: "<ii", "ilp32t64": "<qi"}[abi], 1700000000, 250000)
    recs = _kinfo_proc(abi) + _kinfo_proc(abi, ki_tid=100778, ki_tdname="second")
    rec = bytearray(recs)
    rec[kp.offset("ki_start") : kp.offset("ki_start") + len(start)] = start
    (one, two) = P.decode_kinfo_proc(mk(8, struct.pack("<i", kp.size) + bytes(rec)), ident)
    assert (one["ki_pid"], one["ki_ppid"], one["ki_pgid"], one["ki_sid"]) == (501, 1, 501, 400)
    assert (one["ki_uid"], one["ki_ruid"], one["ki_svuid"]) == (1001, 1002, 1003)
    assert (one["ki_rgid"], one["ki_svgid"], one["ki_groups"]) == (20, 21, [20, 0])
    assert (one["ki_size"], one["ki_rssize"], one["ki_flag"]) == (1 << 20, 12, 0x10000080)
    assert (one["ki_stat_name"], one["ki_nice"], one["ki_comm"]) == ("SSLEEP", -5, "daemon")
    assert one["ki_tdname"] + one["ki_moretdname"] == "a-thread-name-16xyz"  # type: ignore[operator]
    assert (one["ki_jid"], one["ki_numthreads"], one["ki_tid"]) == (7, 2, 100777)
    assert one["ki_start"] == 1700000000.25
    assert (two["ki_tid"], two["ki_tdname"]) == (100778, "second")


def _vmmap(paths: list[str | None], pack: bool = True) -> bytes:
    kv = CStruct(KINFO_VMENTRY, 64)
    recs = [dict(kve_type=2 if p else 1, kve_start=0x10000 * (i + 1),
                 kve_end=0x10000 * (i + 1) + 0x3000, kve_offset=0x1000 * i, kve_flags=4 * i % 8,
                 kve_protection=(1, 3, 5)[i % 3], kve_path=p or "") for i, p in enumerate(paths)]  # fmt: skip
    if pack:
        body = packed(kv, "kve_path", recs)
    else:
        body = b"".join(kv.pack(**{**r, "kve_structsize": kv.size}) for r in recs)
    return struct.pack("<i", kv.size) + body


@pytest.mark.parametrize("pack", [True, False])
def test_vmmap_packed_and_full_records(pack: bool) -> None:
    desc = _vmmap(["/bin/sh", None, "/lib/libc.so.7"], pack) + bytes(40)  # kernel zero padding
    entries, maps = P.decode_vmmap(mk(10, desc), AMD64)
    assert [e["kve_type"] for e in entries] == ["vnode", "default", "vnode"]
    assert [(m.start, m.end, m.perms, m.path) for m in maps] == [
        (0x10000, 0x13000, "r--", "/bin/sh"),
        (0x20000, 0x23000, "rw-", None),
        (0x30000, 0x33000, "r-x", "/lib/libc.so.7"),
    ]
    assert maps[2].file_offset == 0x2000 and entries[1]["kve_flags"] == P.KVME_FLAG_NOCOREDUMP
    view = freebsd.fold([mk(10, desc)], AMD64)
    assert [m.path for m in view.files] == ["/bin/sh", "/lib/libc.so.7"]  # file-backed only
    assert len(view.details["vmmap"]) == 3  # type: ignore[arg-type]


def test_vmmap_bad_record_sizes_name_their_offsets() -> None:
    good = _vmmap(["/bin/sh", "/lib/libc.so.7"])
    first = int.from_bytes(good[4:8], "little")
    second_at = 4 + first
    cases = {
        "zero then data": (second_at, 0),
        "past the end": (second_at, 1 << 20),
        "below the fixed part": (second_at, 8),
        "negative": (4, -1),
    }
    for what, (at, value) in cases.items():
        bad = bytearray(good)
        bad[at : at + 4] = struct.pack("<i", value)
        with pytest.raises(CoreFormatError) as err:
            P.decode_vmmap(mk(10, bytes(bad)), AMD64)
        assert err.value.offset == BASE + at, what
    for size in (0, 135, 1 << 20):  # the note's own structsize
        with pytest.raises(CoreFormatError) as err:
            P.decode_vmmap(mk(10, struct.pack("<i", size) + good[4:]), AMD64)
        assert err.value.offset == BASE
    with pytest.raises(CoreFormatError) as err:
        P.decode_vmmap(mk(10, good[:3]), AMD64)  # shorter than the structsize itself
    assert err.value.offset == BASE


def test_files_procstat_and_the_executable_path() -> None:
    kf = CStruct(KINFO_FILE, 64)
    assert kf.size == 1392  # KINFO_FILE_SIZE
    recs = [dict(kf_type=1, kf_fd=-5, kf_path="/usr/bin/true"),
            dict(kf_type=1, kf_fd=-1, kf_path="/home/u"),
            dict(kf_type=2, kf_fd=3, kf_flags=3, kf_offset=-1)]  # fmt: skip
    desc = struct.pack("<i", kf.size) + packed(kf, "kf_path", recs)
    files = P.decode_files(mk(9, desc), AMD64)
    assert [(f["kf_type"], f["kf_fd"], f["kf_fd_name"], f["kf_path"]) for f in files] == [
        ("vnode", -5, "text", "/usr/bin/true"),
        ("vnode", -1, "cwd", "/home/u"),
        ("socket", 3, None, None),
    ]
    assert files[2]["kf_offset"] == -1
    assert freebsd.fold([mk(9, desc)], AMD64).process.exe == "/usr/bin/true"


def test_small_procstat_notes() -> None:
    i = lambda *v: struct.pack(f"<{len(v)}i", *v)  # noqa: E731
    assert P.decode_groups(mk(11, i(4, 0, 5, 20)), AMD64) == [0, 5, 20]
    assert P.decode_scalar(mk(12, i(2) + struct.pack("<H", 0o22)), AMD64, "UMASK") == 0o22
    assert P.decode_scalar(mk(14, i(4, 1400097)), AMD64, "OSREL") == 1400097
    ps = struct.pack("<iQ", 8, 0x7FFFFFFFE000)
    assert P.decode_scalar(mk(15, ps), AMD64, "PSSTRINGS") == 0x7FFFFFFFE000
    assert P.decode_scalar(mk(15, i(4, 0xBFBFE000 - (1 << 32))), I386, "PSSTRINGS") == 0xBFBFE000
    assert P.decode_scalar(mk(14, i(4, -1)), AMD64, "OSREL", signed=True) == -1
    inf = P.RLIM_INFINITY
    lim = struct.pack("<i", 16) + struct.pack("<4q", 10, 20, inf, inf)
    assert P.decode_rlimit(mk(13, lim), AMD64) == {"cpu": (10, 20), "fsize": (inf, inf)}
    auxv = struct.pack("<i8q", 16, 15, 0x7FFFFFFFEF00, 6, 4096, 32, 0x7FFFFFFFE000, 0, 0)
    names = [(a.name, a.a_val) for a in P.decode_auxv(mk(16, auxv), AMD64)]
    assert names == [("AT_EXECPATH", 0x7FFFFFFFEF00), ("AT_PAGESZ", 4096),
                     ("AT_PS_STRINGS", 0x7FFFFFFFE000)]  # fmt: skip
    auxv32 = struct.pack("<i4I", 8, 16, 0xBFBFE000, 0, 0)
    assert [a.name for a in P.decode_auxv(mk(16, auxv32), I386)] == ["AT_CANARY"]
    for bad in (mk(11, i(8, 0, 0)), mk(13, i(8, 0, 0)), mk(16, i(8, 0, 0)), mk(12, i(3, 0))):
        with pytest.raises(CoreFormatError):
            freebsd.fold([bad], AMD64)


def _thread_notes(lwpid: int, cursig: int, name: str, si: dict[str, int] | None) -> list[Note]:
    z = bytes(16)
    return [mk(1, prstatus(64, 1302001, cursig, lwpid, amd64_reg(X86_64_REGS))),
            mk(2, bytes(512)), mk(7, thrmisc(name)), mk(17, ptlwpinfo(64, lwpid, z, z, name, si)),
            mk(0x202, bytes(832))]  # fmt: skip


def test_fold_faulting_thread_first_and_signal_sources() -> None:
    si = dict(signo=11, errno=0, code=2, pid=0, uid=0, addr=0x1234)
    notes = [mk(3, prpsinfo(64, "prog", "prog arg", 900))]
    notes += _thread_notes(100002, 11, "crasher", si) + _thread_notes(100001, 11, "main", None)
    notes += [mk(99, b"raw"), mk(1, b"other namespace", name="CORE")]
    view = freebsd.fold(notes, AMD64)
    assert view.os == "freebsd" and view.crashed_index == 0
    assert [(t.tid, t.name, t.signal) for t in view.threads] == [
        (100002, "crasher", 11), (100001, "main", 11)]  # fmt: skip
    assert view.threads[0].pc == X86_64_REGS["rip"] and view.threads[0].sp == X86_64_REGS["rsp"]
    assert view.threads[0].raw_notes == {"NT_X86_XSTATE": 832}
    assert view.threads[1].fpregs == bytes(512) and view.threads[1].siginfo is None
    assert view.signal is not None and view.signal.source == "siginfo"
    assert (view.signal.code_name, view.signal.addr) == ("SEGV_ACCERR", 0x1234)
    assert (view.process.pid, view.process.fname, view.process.psargs) == (900, "prog", "prog arg")
    assert [d is None for _, d in view.decoded_notes][-2:] == [True, True]
    assert len(view.decoded_notes) == len(notes)

    # Without NT_PTLWPINFO (FreeBSD < 11) only pr_cursig is known.
    older = [n for n in notes if n.type != 17]
    sig = freebsd.fold(older, AMD64).signal
    assert sig is not None and (sig.signo, sig.name, sig.source, sig.code) == (
        11, "SIGSEGV", "cursig", None)  # fmt: skip
    # No signal at all (gcore): no crashed thread.
    quiet = _thread_notes(100001, 0, "main", None)
    assert freebsd.fold(quiet, AMD64).crashed_index is None


def test_thread_names_fall_back_to_kinfo_proc() -> None:
    notes = [mk(1, prstatus(64, 1, 6, 100777, amd64_reg(X86_64_REGS)))]
    notes.append(mk(8, struct.pack("<i", 1088) + _kinfo_proc(64)))
    view = freebsd.fold(notes, AMD64)
    assert view.threads[0].name == "a-thread-name-16xyz"
    assert (view.process.ppid, view.process.uid, view.process.state) == (1, 1002, "SSLEEP")
    assert view.details["kinfo_proc"]["ki_jid"] == 7  # type: ignore[index]


def _all_notes() -> list[Note]:
    si = dict(signo=11, errno=0, code=1, pid=0, uid=0, addr=0)
    notes = [mk(3, prpsinfo(64, "prog", "prog", 1))] + _thread_notes(100001, 11, "t", si)
    notes.append(mk(8, struct.pack("<i", 1088) + _kinfo_proc(64)))
    kf = CStruct(KINFO_FILE, 64)
    notes.append(
        mk(9, struct.pack("<i", kf.size) + packed(kf, "kf_path", [dict(kf_fd=-5, kf_path="/x")]))
    )
    notes.append(mk(10, _vmmap(["/bin/sh", None])))
    i = lambda *v: struct.pack(f"<{len(v)}i", *v)  # noqa: E731
    notes += [mk(11, i(4, 0)), mk(12, i(2, 18)), mk(13, i(16, 0, 0, 0, 0)), mk(14, i(4, 1)),
              mk(15, struct.pack("<iQ", 8, 1)), mk(16, struct.pack("<i4q", 16, 6, 4096, 0, 0))]  # fmt: skip
    return notes


BASE_NOTES = _all_notes()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(0, len(BASE_NOTES) - 1),
    st.lists(st.tuples(st.integers(0, 4095), st.integers(0, 255)), max_size=8),
    st.integers(0, 4096),
    st.sampled_from([AMD64, I386, ARM64]),
)
def test_fuzz_mutated_notes_raise_only_core_format_errors(
    index: int, flips: list[tuple[int, int]], cut: int, ident: ElfIdent
) -> None:
    note = BASE_NOTES[index]
    desc = bytearray(note.desc[: max(cut, 0)] if cut < len(note.desc) else note.desc)
    for pos, value in flips:
        if desc:
            desc[pos % len(desc)] = value
    notes = [*BASE_NOTES[:index], mk(note.type, bytes(desc)), *BASE_NOTES[index + 1 :]]
    try:
        view = freebsd.fold(notes, ident)
    except CoreFormatError as e:
        # Every desc of this list starts at BASE: the offset must fall inside one of them.
        assert BASE <= e.offset <= BASE + max(len(n.desc) for n in notes)
        return
    assert len(view.decoded_notes) == len(notes)


def test_many_threads_fold_in_linear_time() -> None:
    reg = amd64_reg(X86_64_REGS)
    z = bytes(16)
    notes = []
    for lwpid in range(100001, 100001 + 20000):
        notes += [
            mk(1, prstatus(64, 1, 11, lwpid, reg)),
            mk(17, ptlwpinfo(64, lwpid, z, z, "t", None)),
        ]
    started = time.monotonic()
    view = freebsd.fold(notes, AMD64)
    assert len(view.threads) == 20000 and view.threads[-1].name == "t"
    assert time.monotonic() - started < 10  # about 1 s here; quadratic would take minutes
