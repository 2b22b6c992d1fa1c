"""Write FreeBSD-format cores from real Linux cores, for tests (no real FreeBSD core exists).

No FreeBSD machine is available, so FreeBSD support is validated on cores laid out exactly as
FreeBSD's kernel writes them (``sys/kern/imgact_elf.c``: ``__elfN(coredump)``, ``puthdr``,
``prepare_notes``; structs from ``sys/sys/procfs.h``, ``sys/sys/user.h``, ``sys/sys/ptrace.h``,
``sys/x86/include/reg.h``) whose *contents* come from a real crash: a core the Linux kernel
wrote for a real program. Registers are moved into FreeBSD ``struct reg`` order, signal numbers
and codes are translated, memory segments are copied byte for byte and the ``NT_FILE`` table
becomes ``NT_PROCSTAT_VMMAP``. What the Linux core cannot say (fd table, rlimits, umask,
groups) is taken from the test process the crashed child inherited them from; what nobody can
say (``ki_start``, ``trapno``) is written as 0. LWP ids are the Linux tids + 100000 (FreeBSD's
tids start above PID_MAX), so a decoder that confuses pid and tid is caught.

This module reads Linux cores with its own small parser (x86_64 and i386 only) on purpose: it
is the oracle the decoders are checked against and must not share their code.
"""

from __future__ import annotations

import os
import resource
import struct
from dataclasses import dataclass, field
from pathlib import Path

TID_BASE = 100000
PAGE = 4096
PT_LOAD, PT_NOTE = 1, 4
ELFOSABI_FREEBSD = 9
EM_386, EM_X86_64, EM_AARCH64 = 3, 62, 183


# --- A small ELF core reader (Linux x86_64 / i386) ---------------------------------------


@dataclass
class RawNote:
    name: str
    type: int
    desc: bytes


@dataclass
class Load:
    vaddr: int
    memsz: int
    filesz: int
    flags: int
    data: bytes


@dataclass
class SourceThread:
    tid: int
    regs: dict[str, int]
    sigpend: int
    sighold: int
    fpregs: bytes = b""
    xstate: bytes = b""


@dataclass
class SourceCore:
    """A crashed process as read from a real core: Linux, or NetBSD (tests/bsdcore_netbsd.py)."""

    elfclass: int
    machine: int
    loads: list[Load]
    notes: list[RawNote]
    threads: list[SourceThread] = field(default_factory=list)
    psinfo: dict[str, object] = field(default_factory=dict)
    siginfo: dict[str, int] = field(default_factory=dict)
    auxv: list[tuple[int, int]] = field(default_factory=list)
    files: list[tuple[int, int, int, str]] = field(default_factory=list)  # start end offset path
    os: str = "linux"  # whose signal numbering cursig uses (NetBSD's is FreeBSD's)
    cursig: int = 0


def walk_notes(data: bytes, elfclass: int) -> list[tuple[RawNote, int]]:
    """(note, file offset) for every note of every PT_NOTE of the ELF image ``data``."""
    out = []
    for p_type, p_offset, _, p_filesz, _, _ in _phdrs(data, elfclass):
        if p_type != PT_NOTE:
            continue
        pos, end = p_offset, p_offset + p_filesz
        while pos + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", data, pos)
            name_at = pos + 12
            desc_at = name_at + ((namesz + 3) & ~3)
            name = data[name_at : name_at + namesz].rstrip(b"\0").decode()
            out.append((RawNote(name, ntype, data[desc_at : desc_at + descsz]), pos))
            pos = desc_at + ((descsz + 3) & ~3)
    return out


def _phdrs(data: bytes, elfclass: int) -> list[tuple[int, int, int, int, int, int]]:
    """(p_type, p_offset, p_vaddr, p_filesz, p_memsz, p_flags) per program header."""
    if elfclass == 64:
        phoff, phnum = struct.unpack_from("<Q", data, 32)[0], struct.unpack_from("<H", data, 56)[0]
        rows = [struct.unpack_from("<IIQQQQQQ", data, phoff + 56 * i) for i in range(phnum)]
        return [(r[0], r[2], r[3], r[5], r[6], r[1]) for r in rows]
    phoff, phnum = struct.unpack_from("<I", data, 28)[0], struct.unpack_from("<H", data, 44)[0]
    rows = [struct.unpack_from("<IIIIIIII", data, phoff + 32 * i) for i in range(phnum)]
    return [(r[0], r[1], r[2], r[4], r[5], r[6]) for r in rows]


# arch/x86/include/asm/user_64.h and user_32.h, struct user_regs_struct.
LINUX_REGS = {
    64: "r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags rsp "
    "ss fs_base gs_base ds es fs gs",
    32: "ebx ecx edx esi edi ebp eax ds es fs gs orig_eax eip cs eflags esp ss",
}


def read_linux_core(path: Path) -> SourceCore:
    """Parse the threads, process info, siginfo, auxv, NT_FILE and PT_LOADs of a Linux core."""
    data = path.read_bytes()
    elfclass = 64 if data[4] == 2 else 32
    (machine,) = struct.unpack_from("<H", data, 18)
    loads = [
        Load(vaddr, memsz, filesz, flags, data[off : off + filesz])
        for p_type, off, vaddr, filesz, memsz, flags in _phdrs(data, elfclass)
        if p_type == PT_LOAD
    ]
    core = SourceCore(elfclass, machine, loads, [n for n, _ in walk_notes(data, elfclass)])
    w, wc = (8, "Q") if elfclass == 64 else (4, "I")
    for note in core.notes:
        d = note.desc
        if note.type == 1:  # NT_PRSTATUS: elf_siginfo, cursig, sigpend, sighold, pid ...
            sigpend, sighold = struct.unpack_from("<" + wc + wc, d, 16)
            (tid,) = struct.unpack_from("<i", d, 16 + 2 * w)
            reg_at = 16 + 2 * w + 16 + 8 * w
            names = LINUX_REGS[elfclass].split()
            values = struct.unpack_from(f"<{len(names)}{wc}", d, reg_at)
            core.threads.append(
                SourceThread(tid, dict(zip(names, values, strict=True)), sigpend, sighold)
            )
        elif note.type == 2 and core.threads:  # NT_FPREGSET
            core.threads[-1].fpregs = d
        elif note.type == 0x202 and core.threads:  # NT_X86_XSTATE
            core.threads[-1].xstate = d
        elif note.type == 3:  # NT_PRPSINFO
            core.psinfo = _linux_psinfo(d, elfclass)
        elif note.type == 0x53494749 and not core.siginfo:  # NT_SIGINFO of the first thread
            signo, errno, code = struct.unpack_from("<iii", d, 0)
            union = 16 if elfclass == 64 else 12
            (addr,) = struct.unpack_from("<" + wc, d, union)
            pid, uid = struct.unpack_from("<iI", d, union)
            core.siginfo = dict(signo=signo, errno=errno, code=code, addr=addr, pid=pid, uid=uid)
            core.cursig = signo
        elif note.type == 6:  # NT_AUXV
            vals = struct.unpack_from(f"<{len(d) // w}{wc}", d)
            core.auxv = [(t, v) for t, v in zip(vals[0::2], vals[1::2], strict=False) if t]
        elif note.type == 0x46494C45:  # NT_FILE
            count, page = struct.unpack_from("<" + wc + wc, d)
            vals = struct.unpack_from(f"<{3 * count}{wc}", d, 2 * w)
            names = d[2 * w + 3 * w * count :].split(b"\0")
            for i in range(count):
                s, e, pgoff = vals[3 * i : 3 * i + 3]
                core.files.append((s, e, pgoff * page, names[i].decode()))
    return core


def _linux_psinfo(d: bytes, elfclass: int) -> dict[str, object]:
    # include/uapi/linux/elfcore.h, elf_prpsinfo (pr_uid/pr_gid are 16-bit on i386).
    if elfclass == 64:
        (nice,) = struct.unpack_from("<b", d, 3)
        uid, gid, pid, ppid, pgrp, sid = struct.unpack_from("<IIiiii", d, 16)
        at = 40
    else:
        (nice,) = struct.unpack_from("<b", d, 3)
        uid, gid, pid, ppid, pgrp, sid = struct.unpack_from("<HHiiii", d, 8)
        at = 28
    fname = d[at : at + 16].split(b"\0")[0].decode()
    psargs = d[at + 16 : at + 96].split(b"\0")[0].decode().rstrip()
    return dict(nice=nice, uid=uid, gid=gid, pid=pid, ppid=ppid, pgrp=pgrp, sid=sid,
                fname=fname, psargs=psargs)  # fmt: skip


# --- C layouts, computed from the declarations (not from the decoders' offset tables) -------

# (size, alignment) per ABI: amd64 LP64; i386 ILP32, where a 64-bit integer is 4-aligned inside
# structs and time_t is 32-bit; "ilp32t64" the other 32-bit FreeBSD ABIs (armv7, powerpc): a
# 64-bit, 8-aligned time_t. Compound members are kept opaque (bytes): only spacers here.
_CTYPES: dict[int | str, dict[str, tuple[int, int]]] = {
    64: dict(int=(4, 4), short=(2, 2), char=(1, 1), long=(8, 8), ptr=(8, 8), u64=(8, 8),
             i64=(8, 8), timeval=(16, 8), sigset=(16, 4), rusage=(144, 8), priority=(4, 1)),
    32: dict(int=(4, 4), short=(2, 2), char=(1, 1), long=(4, 4), ptr=(4, 4), u64=(8, 4),
             i64=(8, 4), timeval=(8, 4), sigset=(16, 4), rusage=(72, 4), priority=(4, 1)),
    "ilp32t64": dict(int=(4, 4), short=(2, 2), char=(1, 1), long=(4, 4), ptr=(4, 4),
                     u64=(8, 8), i64=(8, 8), timeval=(16, 8), sigset=(16, 4), rusage=(88, 8),
                     priority=(4, 1)),
}  # fmt: skip
_CODES = {("int", 4): "i", ("short", 2): "h", ("char", 1): "b", ("long", 8): "q",
          ("long", 4): "i", ("ptr", 8): "Q", ("ptr", 4): "I", ("u64", 8): "Q", ("i64", 8): "q"}  # fmt: skip

# sys/sys/user.h, struct kinfo_proc (FreeBSD 13), member by member.
KINFO_PROC = """
int ki_structsize; int ki_layout; ptr ki_args; ptr ki_paddr; ptr ki_addr; ptr ki_tracep;
ptr ki_textvp; ptr ki_fd; ptr ki_vmspace; ptr ki_wchan; int ki_pid; int ki_ppid; int ki_pgid;
int ki_tpgid; int ki_sid; int ki_tsid; short ki_jobc; short ki_spare_short1;
int ki_tdev_freebsd11; sigset ki_siglist; sigset ki_sigmask; sigset ki_sigignore;
sigset ki_sigcatch; int ki_uid; int ki_ruid; int ki_svuid; int ki_rgid; int ki_svgid;
short ki_ngroups; short ki_spare_short2; int ki_groups[16]; long ki_size; long ki_rssize;
long ki_swrss; long ki_tsize; long ki_dsize; long ki_ssize; short ki_xstat; short ki_acflag;
int ki_pctcpu; int ki_estcpu; int ki_slptime; int ki_swtime; int ki_cow; u64 ki_runtime;
timeval ki_start; timeval ki_childtime; long ki_flag; long ki_kiflag; int ki_traceflag;
char ki_stat; char ki_nice; char ki_lock; char ki_rqindex; char ki_oncpu_old;
char ki_lastcpu_old; char ki_tdname[17]; char ki_wmesg[9]; char ki_login[18];
char ki_lockname[9]; char ki_comm[20]; char ki_emul[17]; char ki_loginclass[18];
char ki_moretdname[4]; char ki_sparestrings[46]; int ki_spareints[2]; u64 ki_tdev;
int ki_oncpu; int ki_lastcpu; int ki_tracer; int ki_flag2; int ki_fibnum; int ki_cr_flags;
int ki_jid; int ki_numthreads; int ki_tid; priority ki_pri; rusage ki_rusage;
rusage ki_rusage_ch; ptr ki_pcb; ptr ki_kstack; ptr ki_udata; ptr ki_tdaddr; ptr ki_pd;
ptr ki_spareptrs[5]; long ki_sparelongs[12]; long ki_sflag; long ki_tdflags;
"""
# struct kinfo_vmentry and struct kinfo_file (kf_un is a 304-byte union).
KINFO_VMENTRY = """
int kve_structsize; int kve_type; u64 kve_start; u64 kve_end; u64 kve_offset;
u64 kve_vn_fileid; int kve_vn_fsid_freebsd11; int kve_flags; int kve_resident;
int kve_private_resident; int kve_protection; int kve_ref_count; int kve_shadow_count;
int kve_vn_type; u64 kve_vn_size; int kve_vn_rdev_freebsd11; short kve_vn_mode;
short kve_status; u64 kve_type_spec; u64 kve_vn_rdev; int _kve_ispare[8]; char kve_path[1024];
"""
KINFO_FILE = """
int kf_structsize; int kf_type; int kf_fd; int kf_ref_count; int kf_flags; int kf_pad0;
i64 kf_offset; char kf_un[304]; short kf_status; short kf_pad1; int _kf_ispare0;
u64 kf_cap_rights[2]; u64 _kf_cap_spare; char kf_path[1024];
"""


class CStruct:
    """A C struct laid out by the ABI's natural alignment; ``pack`` fills members by name."""

    def __init__(self, decl: str, elfclass: int | str) -> None:
        self.members: dict[str, tuple[int, str, int]] = {}  # name -> offset, ctype, count
        at, biggest = 0, 1
        for item in decl.replace("\n", " ").split(";"):
            if not item.strip():
                continue
            ctype, name = item.split()
            count = int(name.split("[")[1].rstrip("]")) if "[" in name else 1
            size, align = _CTYPES[elfclass][ctype]
            at = (at + align - 1) // align * align
            self.members[name.split("[")[0]] = (at, ctype, count)
            at += size * count
            biggest = max(biggest, align)
        self.size = (at + biggest - 1) // biggest * biggest
        self.elfclass = elfclass

    def offset(self, name: str) -> int:
        return self.members[name][0]

    def pack(self, **values: object) -> bytes:
        buf = bytearray(self.size)
        for name, value in values.items():
            at, ctype, count = self.members[name]
            if isinstance(value, (bytes, str)):
                raw = value.encode() if isinstance(value, str) else value
                size = _CTYPES[self.elfclass][ctype][0] * count
                buf[at : at + len(raw[: size - 1])] = raw[: size - 1]
                continue
            code = _CODES[(ctype, _CTYPES[self.elfclass][ctype][0])]
            items = value if isinstance(value, list) else [value]
            struct.pack_into(f"<{len(items)}{code}", buf, at, *items)
        return bytes(buf)


# --- FreeBSD notes --------------------------------------------------------------------------

_LINUX_SIGNALS = ("HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM STKFLT "
                  "CHLD CONT STOP TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO PWR SYS")  # fmt: skip
_FREEBSD_SIGNALS = ("HUP INT QUIT ILL TRAP ABRT EMT FPE KILL BUS SEGV SYS PIPE ALRM TERM URG STOP "
                    "TSTP CONT CHLD TTIN TTOU IO XCPU XFSZ VTALRM PROF WINCH INFO USR1 USR2")  # fmt: skip
FREEBSD_SIGNO = {n: i for i, n in enumerate(_FREEBSD_SIGNALS.split(), 1)}
LINUX_SIGNAME = dict(enumerate(_LINUX_SIGNALS.split(), 1))
# Linux si_code (siginfo.h) -> FreeBSD (sys/sys/signal.h): the SI_* values move to 0x1000x.
_SI_CODES = {0: 0x10001, -1: 0x10002, -2: 0x10003, -3: 0x10005, -4: 0x10004, -6: 0x10007,
             0x80: 0x10006}  # fmt: skip


def freebsd_signo(linux_signo: int) -> int:
    return FREEBSD_SIGNO.get(LINUX_SIGNAME.get(linux_signo, ""), linux_signo)


def freebsd_si_code(linux_signo: int, code: int) -> int:
    if code in _SI_CODES:
        return _SI_CODES[code]
    if LINUX_SIGNAME.get(linux_signo) == "FPE" and code in (1, 2):
        return 3 - code  # FreeBSD: FPE_INTOVF 1, FPE_INTDIV 2 (Linux has them the other way)
    return code


def _sigset(linux_mask: int) -> bytes:
    """A Linux signal mask (bit n-1 = signal n) as a FreeBSD sigset_t (4 x uint32)."""
    bits = 0
    for n in range(1, 65):
        if linux_mask >> (n - 1) & 1:
            bits |= 1 << (freebsd_signo(n) - 1)
    return bits.to_bytes(16, "little")


def note(name: str, ntype: int, desc: bytes) -> bytes:
    """One ELF note as FreeBSD writes it: name and desc padded to 4 (ELF_NOTE_ROUNDSIZE)."""
    raw = name.encode() + b"\0"
    pad = lambda b: b + b"\0" * (-len(b) % 4)  # noqa: E731
    return struct.pack("<III", len(raw), len(desc), ntype) + pad(raw) + pad(desc)


def prstatus(
    elfclass: int, osrel: int, cursig: int, lwpid: int, reg: bytes, fpsize: int = 0
) -> bytes:
    """sys/sys/procfs.h prstatus_t, PRSTATUS_VERSION 1 (fpsize: sizeof(fpregset_t))."""
    fpsize = fpsize or (512 if elfclass == 64 else 176)
    head = "<i4xQQQiii4x" if elfclass == 64 else "<iIIIiii"
    size = struct.calcsize(head) + len(reg)
    return struct.pack(head, 1, size, len(reg), fpsize, osrel, cursig, lwpid) + reg


def amd64_reg(r: dict[str, int]) -> bytes:
    """sys/x86/include/reg.h struct __reg64 from Linux user_regs_struct (trapno/err unknown)."""
    head = [
        r[n]
        for n in [
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
        ]
    ]
    sel = [r[n] & 0xFFFF for n in ("fs", "gs")], [r[n] & 0xFFFF for n in ("es", "ds")]
    tail = [r["rip"], r["cs"], r["eflags"], r["rsp"], r["ss"]]
    return struct.pack("<15QIHHIHH5Q", *head, 0, *sel[0], 0, *sel[1], *tail)


def i386_reg(r: dict[str, int]) -> bytes:
    """sys/x86/include/reg.h struct __reg32 (r_isp, the kernel stack pointer, is 0)."""
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
    return struct.pack("<19I", *[r.get(n, 0) for n in order])


def prpsinfo(elfclass: int, fname: str, psargs: str, pid: int) -> bytes:
    """sys/sys/procfs.h prpsinfo_t: pr_fname[PRFNAMESZ + 1], pr_psargs[PRARGSZ + 1], pr_pid."""
    f, a = fname.encode()[:16], psargs.encode()[:80]
    if elfclass == 64:
        return struct.pack("<i4xQ17s81s2xi", 1, 120, f, a, pid)
    return struct.pack("<iI17s81s2xi", 1, 112, f, a, pid)


def thrmisc(name: str) -> bytes:
    """thrmisc_t: pr_tname[MAXCOMLEN + 1] and a zero pad."""
    return struct.pack("<20sI", name.encode()[:19], 0)


def ptlwpinfo(elfclass: int, lwpid: int, sigmask: bytes, siglist: bytes, tdname: str,
              si: dict[str, int] | None) -> bytes:  # fmt: skip
    """int structsize + struct ptrace_lwpinfo (sys/sys/ptrace.h), as note_ptlwpinfo writes."""
    event, flags = (1, 0x20) if si else (0, 0)  # PL_EVENT_SIGNAL, PL_FLAG_SI
    s = si or dict(signo=0, errno=0, code=0, pid=0, uid=0, addr=0)
    head = struct.pack("<iii16s16s", lwpid, event, flags, sigmask, siglist)
    vals = (s["signo"], s["errno"], s["code"], s["pid"], s["uid"], 0, s["addr"], 0)
    if elfclass == 64:
        pl = head + b"\0" * 4 + struct.pack("<iiiiIiQQ40s", *vals, b"")
    else:
        pl = head + struct.pack("<iiiiIiII32s", *vals, b"")
    pl += struct.pack("<20siII", tdname.encode()[:19], 0, 0, 0)
    return struct.pack("<i", len(pl)) + pl


def packed(layout: CStruct, path_member: str, records: list[dict[str, object]]) -> bytes:
    """Records truncated after their path and 8-aligned, as KERN_*_PACK_KINFO writes them."""
    out = b""
    size_member = path_member.split("_")[0] + "_structsize"
    for rec in records:
        path = str(rec.get(path_member) or "").encode()
        size = (layout.offset(path_member) + len(path) + 1 + 7) // 8 * 8
        out += layout.pack(**{**rec, size_member: size})[:size]
    return out


@dataclass
class VmEntry:
    start: int
    end: int
    prot: int  # KVME_PROT_READ 1 | WRITE 2 | EXEC 4
    flags: int  # KVME_FLAG_NOCOREDUMP 4 | GROWS_DOWN 0x20
    offset: int
    path: str | None
    dumped: bool


@dataclass
class FreeBSDCore:
    """What :func:`build_freebsd_core` wrote, for tests to compare with what is decoded."""

    path: Path
    source: SourceCore
    lwpids: list[int]  # FreeBSD LWP ids in note order (the faulting thread first)
    names: list[str]
    signo: int  # FreeBSD numbering
    si_code: int | None  # None: no NT_PTLWPINFO siginfo
    vmmap: list[VmEntry]
    osrel: int
    umask: int
    groups: list[int]
    rlimits: dict[str, tuple[int, int]]
    psstrings: int
    exe: str
    cwd: str
    note_offsets: dict[int, int] = field(default_factory=dict)  # n_type -> file offset (last)


# FreeBSD's RLIMIT_* in order (sys/sys/resource.h) with the Linux limit of the same meaning.
_RLIMITS = {"cpu": "CPU", "fsize": "FSIZE", "data": "DATA", "stack": "STACK", "core": None,
            "rss": "RSS", "memlock": "MEMLOCK", "nproc": "NPROC", "nofile": "NOFILE",
            "sbsize": None, "vmem": "AS", "npts": None, "swap": None, "kqueues": None,
            "umtxp": None}  # fmt: skip
_FREEBSD_RLIM_INFINITY = (1 << 63) - 1


def _rlimits() -> dict[str, tuple[int, int]]:
    """The limits the crashed child inherited from this process (RLIMIT_CORE unlimited, as
    the crash harness sets it; FreeBSD-only limits unlimited)."""
    out = {}
    for name, linux in _RLIMITS.items():
        cur = mx = resource.RLIM_INFINITY
        if linux is not None:
            cur, mx = resource.getrlimit(getattr(resource, f"RLIMIT_{linux}"))
        fix = lambda v: _FREEBSD_RLIM_INFINITY if v == resource.RLIM_INFINITY else v  # noqa: E731
        out[name] = (fix(cur), fix(mx))
    return out


def _user_loads(core: SourceCore) -> list[Load]:
    """The PT_LOADs of user space: Linux's amd64 [vsyscall] page is kernel space on FreeBSD."""
    if core.machine != EM_X86_64:
        return core.loads
    return [ld for ld in core.loads if ld.vaddr < 1 << 47]


def _vmmap(linux: SourceCore, sp: int) -> list[VmEntry]:
    files = {start: (off, path) for start, _, off, path in linux.files}
    out = []
    for load in _user_loads(linux):
        prot = (
            (1 if load.flags & 4 else 0)
            | (2 if load.flags & 2 else 0)
            | (4 if load.flags & 1 else 0)
        )
        # Linux: p_filesz < p_memsz means "not dumped past here" (read the file); NetBSD trims
        # trailing zeros, which ELF reads back as zeros: dump those whole.
        dumped = 0 < load.filesz == load.memsz or (linux.os == "netbsd" and load.filesz > 0)
        flags = (0 if dumped else 0x4) | (0x20 if load.vaddr <= sp < load.vaddr + load.memsz else 0)
        off, path = files.get(load.vaddr, (0, None))
        out.append(VmEntry(load.vaddr, load.vaddr + load.memsz, prot, flags, off, path, dumped))
    return out


def _auxv(linux: SourceCore, osrel: int) -> list[tuple[int, int]]:
    """Linux AT_* -> FreeBSD AT_* (sys/sys/elf_common.h); Linux-only entries are dropped."""
    same = {3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14}  # AT_PHDR .. AT_ENTRY, AT_UID .. AT_EGID
    moved = {31: 15, 16: 25, 26: 26, 33: 34}  # EXECFN->EXECPATH, HWCAP, HWCAP2, vDSO->KPRELOAD
    out = []
    for t, v in linux.auxv:
        if t in same or t in moved:
            out.append((moved.get(t, t), v))
        elif t == 25:  # AT_RANDOM: 16 bytes, FreeBSD's AT_CANARY + AT_CANARYLEN
            out += [(16, v), (17, 16)]
    return out + [(18, osrel), (19, os.cpu_count() or 1), (0, 0)]


PN_XNUM = 0xFFFF


def write_core(
    out: Path, elfclass: int, machine: int, notes: bytes, loads: list[Load], xnum: bool = False
) -> int:
    """An ET_CORE file as FreeBSD's ``__elfN(coredump)`` lays it out; returns the notes' offset.

    ELF header (ELFOSABI_FREEBSD), PT_NOTE then one PT_LOAD per dumped entry, the notes right
    after the program headers, the segments from the next page boundary on. With 65535 or more
    program headers (or ``xnum``), ``puthdr`` writes e_phnum = PN_XNUM and the real count in
    the sh_info of one section header placed between the program headers and the notes.
    """
    ehsize, phentsize, shentsize = (64, 56, 64) if elfclass == 64 else (52, 32, 40)
    phnum = 1 + len(loads)
    xnum = xnum or phnum >= PN_XNUM
    shoff = ehsize + phentsize * phnum if xnum else 0
    notes_at = ehsize + phentsize * phnum + (shentsize if xnum else 0)
    data_at = (notes_at + len(notes) + PAGE - 1) // PAGE * PAGE
    ident = b"\x7fELF" + bytes([2 if elfclass == 64 else 1, 1, 1, ELFOSABI_FREEBSD]) + bytes(8)
    e_phnum, e_shnum = (PN_XNUM, 1) if xnum else (phnum, 0)
    if elfclass == 64:
        ehdr = ident + struct.pack("<HHIQQQIHHHHHH", 4, machine, 1, 0, ehsize, shoff, 0, ehsize,
                                   phentsize, e_phnum, shentsize, e_shnum, 0)  # fmt: skip
        ph = lambda t, f, off, va, sz, al: struct.pack("<IIQQQQQQ", t, f, off, va, 0, sz, sz, al)  # noqa: E731
        shdr = struct.pack("<IIQQQQIIQQ", 0, 0, 0, 0, 0, e_shnum, 0, phnum, 0, 0)
    else:
        ehdr = ident + struct.pack("<HHIIIIIHHHHHH", 4, machine, 1, 0, ehsize, shoff, 0, ehsize,
                                   phentsize, e_phnum, shentsize, e_shnum, 0)  # fmt: skip
        ph = lambda t, f, off, va, sz, al: struct.pack("<IIIIIIII", t, off, va, 0, sz, sz, f, al)  # noqa: E731
        shdr = struct.pack("<10I", 0, 0, 0, 0, 0, e_shnum, 0, phnum, 0, 0)
    phdrs = ph(PT_NOTE, 0, notes_at, 0, len(notes), 4)
    offset = data_at
    for load in loads:
        phdrs += ph(PT_LOAD, load.flags, offset, load.vaddr, load.memsz, PAGE)
        offset += load.memsz
    with open(out, "wb") as f:
        f.write(ehdr + phdrs + (shdr if xnum else b"") + notes)
        f.write(b"\0" * (data_at - f.tell()))
        for load in loads:
            f.write(load.data)
    return notes_at


def arm64_reg(r: dict[str, int]) -> bytes:
    """sys/arm64/include/reg.h struct reg: x[30], lr, sp, elr, uint32 spsr (+ padding)."""
    x = [r[f"x{i}"] for i in range(30)]
    return struct.pack("<30QQQQI4x", *x, r["x30"], r["sp"], r["pc"], r["spsr"] & 0xFFFFFFFF)


# e_machine -> (struct reg encoder, stack pointer name, sizeof(struct fpreg))
_ARCH = {EM_X86_64: (amd64_reg, "rsp", 512), EM_386: (i386_reg, "esp", 176),
         EM_AARCH64: (arm64_reg, "sp", 528)}  # fmt: skip


def build_freebsd_core(
    source: Path | SourceCore,
    out: Path,
    *,
    cwd: Path,
    thread_names: dict[int, str] | None = None,
    osrel: int = 1302001,
    exe: str | None = None,
    xnum: bool = False,
) -> FreeBSDCore:
    """Re-encode a real core (a Linux core file, or a parsed SourceCore) as FreeBSD writes it.

    ``thread_names`` maps source tids to the names the program gave its threads (Linux cores
    do not hold them); unnamed threads get p_comm, as FreeBSD's thread_create copies it.
    The first source thread must be the one that took the signal (both kernels agree).
    """
    lx = source if isinstance(source, SourceCore) else read_linux_core(source)
    c = lx.elfclass
    encode, sp_name, fp_size = _ARCH[lx.machine]
    vmmap = _vmmap(lx, lx.threads[0].regs[sp_name])
    exe = exe or lx.files[0][3]
    comm = os.path.basename(exe)[:19]  # p_comm: MAXCOMLEN
    names = [(thread_names or {}).get(t.tid, comm) for t in lx.threads]
    signo = freebsd_signo(lx.cursig) if lx.os == "linux" else lx.cursig
    si = None
    if lx.siginfo:
        code = freebsd_si_code(lx.siginfo["signo"], lx.siginfo["code"])
        si = dict(lx.siginfo, signo=signo, code=code)
    umask = os.umask(0)
    os.umask(umask)
    stack = next(v for v in vmmap if v.flags & 0x20)
    info = FreeBSDCore(out, lx, [TID_BASE + t.tid for t in lx.threads], names, signo,
                       si["code"] if si else None, vmmap, osrel, umask, os.getgroups(), _rlimits(),
                       stack.end - (32 if c == 64 else 16), exe, str(cwd))  # fmt: skip
    parts = [(3, prpsinfo(c, comm, str(lx.psinfo["psargs"]), int(lx.psinfo["pid"])))]
    for i, t in enumerate(lx.threads):
        parts += [(1, prstatus(c, osrel, signo, info.lwpids[i], encode(t.regs), fp_size)),
                  (2, t.fpregs.ljust(fp_size, b"\0")), (7, thrmisc(names[i])),
                  (17, ptlwpinfo(c, info.lwpids[i], _sigset(t.sighold), _sigset(t.sigpend),
                                 names[i], si if i == 0 else None))]  # fmt: skip
        if t.xstate:
            parts.append((0x202, t.xstate))
    parts += _procstat_notes(info)
    notes, offsets = b"", {}
    for ntype, desc in parts:
        offsets[ntype] = len(notes)
        notes += note("FreeBSD", ntype, desc)
    loads = [Load(v.start, v.end - v.start, v.end - v.start, _pflags(v.prot), d.data.ljust(v.end - v.start, b"\0"))
             for v, d in zip(vmmap, _user_loads(lx), strict=True) if v.dumped]  # fmt: skip
    at = write_core(out, c, lx.machine, notes, loads, xnum)
    info.note_offsets = {t: at + o for t, o in offsets.items()}
    return info


def _pflags(prot: int) -> int:
    return (4 if prot & 1 else 0) | (2 if prot & 2 else 0) | (1 if prot & 4 else 0)


def _procstat_notes(info: FreeBSDCore) -> list[tuple[int, bytes]]:
    """NT_PROCSTAT_PROC .. NT_PROCSTAT_AUXV, in the kernel's order."""
    lx, c = info.source, info.source.elfclass
    ps, word = lx.psinfo, ("<Q" if c == 64 else "<I")
    kp = CStruct(KINFO_PROC, c)
    assert kp.size == (1088 if c == 64 else 768), kp.size  # KINFO_PROC_SIZE / KINFO_PROC32_SIZE
    procs = b"".join(
        kp.pack(ki_structsize=kp.size, ki_pid=ps["pid"], ki_ppid=ps["ppid"], ki_pgid=ps["pgrp"],
                ki_sid=ps["sid"], ki_uid=ps["uid"], ki_ruid=ps["uid"], ki_svuid=ps["uid"],
                ki_rgid=ps["gid"], ki_svgid=ps["gid"], ki_ngroups=len(info.groups[:16]),
                ki_groups=info.groups[:16] or [0],
                ki_size=sum(v.end - v.start for v in info.vmmap),
                ki_rssize=sum(v.end - v.start for v in info.vmmap if v.dumped) // PAGE,
                ki_flag=0x10000000 | (0x80 if len(lx.threads) > 1 else 0),  # P_INMEM, P_HADTHREADS
                ki_stat=2 if i == 0 else 4, ki_nice=ps["nice"],  # SRUN dumping, others SSTOP
                ki_tdname=name[:16], ki_moretdname=name[16:], ki_comm=os.path.basename(info.exe)[:19],
                ki_emul=f"FreeBSD ELF{c}", ki_numthreads=len(lx.threads), ki_tid=lwpid)
        for i, (lwpid, name) in enumerate(zip(info.lwpids, info.names, strict=True))
    )  # fmt: skip
    kf = CStruct(KINFO_FILE, c)
    assert kf.size == 1392, kf.size  # KINFO_FILE_SIZE
    fds = [
        dict(kf_type=1, kf_fd=-5, kf_flags=1, kf_path=info.exe),  # KF_FD_TYPE_TEXT
        dict(kf_type=1, kf_fd=-1, kf_flags=1, kf_path=info.cwd),  # KF_FD_TYPE_CWD
        dict(kf_type=1, kf_fd=-2, kf_flags=1, kf_path="/"),
    ]  # KF_FD_TYPE_ROOT
    fds += [dict(kf_type=3, kf_fd=fd, kf_flags=1 if fd == 0 else 2) for fd in range(3)]  # pipes
    kv = CStruct(KINFO_VMENTRY, c)
    assert kv.size == 1160, kv.size  # KINFO_VMENTRY_SIZE
    entries = [dict(kve_type=2 if v.path else 1, kve_start=v.start, kve_end=v.end,
                    kve_offset=v.offset, kve_flags=v.flags, kve_protection=v.prot,
                    kve_path=v.path or "") for v in info.vmmap]  # fmt: skip
    rl = b"".join(struct.pack("<qq", *lim) for lim in info.rlimits.values())
    auxv = b"".join(struct.pack(word + word[1], t, v) for t, v in _auxv(lx, info.osrel))
    head = lambda size: struct.pack("<i", size)  # noqa: E731
    return [
        (8, head(kp.size) + procs),
        (9, head(kf.size) + packed(kf, "kf_path", fds)),
        (10, head(kv.size) + packed(kv, "kve_path", entries)),
        (11, head(4) + struct.pack(f"<{len(info.groups)}I", *info.groups)),
        (12, head(2) + struct.pack("<H", info.umask)),
        (13, head(16) + rl),
        (14, head(4) + struct.pack("<i", info.osrel)),
        (15, head(8 if c == 64 else 4) + struct.pack(word, info.psstrings)),
        (16, head(16 if c == 64 else 8) + auxv),
    ]
