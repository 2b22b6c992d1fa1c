"""NetBSD cores: ``NetBSD-CORE`` notes folded into one :class:`NoteView`.

NetBSD's kernel (``sys/kern/core_elf32.c``, ``ELFNAMEEND(coredump_notes)``) writes, in
namespace ``NetBSD-CORE``, ``ELF_NOTE_NETBSD_CORE_PROCINFO`` (1: ``struct
netbsd_elfcore_procinfo``, ``sys/sys/exec_elf.h``) and ``ELF_NOTE_NETBSD_CORE_AUXV`` (2: the
raw ``AuxInfo`` array); then for each LWP, in namespace ``NetBSD-CORE@<lwpid>``, the
machine-dependent ``PT_GETREGS`` and ``PT_GETFPREGS`` structures, the note type being the
ptrace request number. Those numbers differ per architecture (``sys/arch/*/include/ptrace.h``,
``PT_FIRSTMACH`` = 32): amd64 and i386 have ``PT_STEP`` first (``PT_GETREGS`` 33,
``PT_GETFPREGS`` 35), aarch64 has ``PT_GETREGS`` first (32, 34) — as in the corpus cores and
LLDB's ``ProcessElfCore``.

The signal: ``cpi_signo``/``cpi_sigcode`` for the process and ``cpi_siglwp``, the LWP that took
it; 0 means the signal went to the whole process, and then every LWP carries it and the first
LWP in the file is the one reported (what LLDB's TestNetBSDCore asserts).
"""

from __future__ import annotations

from typing import cast

from coresnap.corefile.bsd_signals import si_code_name, signal_name
from coresnap.corefile.model import (
    AuxvEntry,
    ElfIdent,
    Note,
    NoteView,
    ProcessInfo,
    SignalInfo,
    Thread,
)
from coresnap.corefile.reader import cstring, unpack_from, words
from coresnap.corefile.registers import RegisterLayout
from coresnap.errors import CoreFormatError

NAMESPACE = "NetBSD-CORE"
ELF_NOTE_NETBSD_CORE_PROCINFO = 1
ELF_NOTE_NETBSD_CORE_AUXV = 2
NETBSD_ELFCORE_PROCINFO_VERSION = 1
Decoded = dict[str, object]

# (PT_GETREGS, PT_GETFPREGS) note types by arch.
REGSET_TYPES = {"x86_64": (33, 35), "i386": (33, 35), "aarch64": (32, 34)}


def _slots(width: int, names: str) -> tuple[tuple[str, int], ...]:
    return tuple((n, width) for n in names.split())


# struct reg: sys/arch/amd64/include/reg.h (_FRAME_REG order), sys/arch/i386/include/reg.h,
# sys/arch/aarch64/include/reg.h (r_reg[31], r_sp, r_pc, r_spsr, r_tpidr).
REGISTERS: dict[str, RegisterLayout] = {
    "x86_64": RegisterLayout(
        _slots(
            8,
            "rdi rsi rdx rcx r8 r9 r10 r11 r12 r13 r14 r15 rbp rbx rax gs fs es ds trapno err "
            "rip cs rflags rsp ss",
        ),
        "rip",
        "rsp",
    ),
    "i386": RegisterLayout(
        _slots(4, "eax ecx edx ebx esp ebp esi edi eip eflags cs ss ds es fs gs"), "eip", "esp"
    ),
    "aarch64": RegisterLayout(
        _slots(8, " ".join(f"x{i}" for i in range(31)) + " sp pc spsr tpidr"), "pc", "sp"
    ),
}

# sys/sys/exec_elf.h: the SVR4 AT_* below 14 plus NetBSD's Solaris-style 2000+ values.
_AT = "NULL IGNORE EXECFD PHDR PHENT PHNUM PAGESZ BASE FLAGS ENTRY DCACHEBSIZE ICACHEBSIZE "
_AT += "UCACHEBSIZE STACKBASE"
AT_NAMES = {i: f"AT_{n}" for i, n in enumerate(_AT.split())}
AT_NAMES.update({16: "AT_HWCAP", 26: "AT_HWCAP2", 2000: "AT_EUID", 2001: "AT_RUID",
                 2002: "AT_EGID", 2003: "AT_RGID", 2014: "AT_SUN_EXECNAME"})  # fmt: skip

_PROCINFO = (
    "cpi_version cpi_cpisize cpi_signo cpi_sigcode",
    "cpi_pid cpi_ppid cpi_pgrp cpi_sid cpi_ruid cpi_euid cpi_svuid cpi_rgid cpi_egid "
    "cpi_svgid cpi_nlwps",
)
_PROCINFO_SIZE = 160  # through cpi_siglwp


def decode_procinfo(note: Note, ident: ElfIdent) -> Decoded:
    """``struct netbsd_elfcore_procinfo`` (all fields 32-bit, on every arch).

    Raises CoreFormatError for an unknown cpi_version or a cpi_cpisize that the desc does not
    hold or that is too small for cpi_siglwp.
    """
    o, d, base = ident.byteorder, note.desc, note.desc_offset
    head = unpack_from(o + "iiii", d, 0, "cpi_version", base)
    out: Decoded = dict(zip(_PROCINFO[0].split(), head, strict=True))
    version, cpisize = head[0], head[1]
    if version != NETBSD_ELFCORE_PROCINFO_VERSION:
        raise CoreFormatError(base, f"netbsd_elfcore_procinfo: unknown cpi_version {version}")
    if not _PROCINFO_SIZE <= cpisize <= len(d):
        raise CoreFormatError(base + 4, f"cpi_cpisize {cpisize}: desc has {len(d)} bytes")
    for i, name in enumerate(("cpi_sigpend", "cpi_sigmask", "cpi_sigignore", "cpi_sigcatch")):
        out[name] = d[16 + 16 * i : 32 + 16 * i].hex()  # sigset_t: four 32-bit words
    rest = unpack_from(o + "iiiiIIIIIIi", d, 80, "cpi_pid", base)
    out.update(zip(_PROCINFO[1].split(), rest, strict=True))
    out["cpi_name"] = cstring(d[124:156])
    (out["cpi_siglwp"],) = unpack_from(o + "i", d, 156, "cpi_siglwp", base)
    return out


def decode_auxv(note: Note, ident: ElfIdent) -> list[AuxvEntry]:
    """``AuxInfo`` word pairs up to AT_NULL (the kernel copies more than the vector)."""
    values = words(note.desc, ident.elfclass // 8, ident.byteorder)
    out = []
    for a_type, a_val in zip(values[0::2], values[1::2], strict=False):
        if a_type == 0:
            break
        out.append(AuxvEntry(a_type, AT_NAMES.get(a_type, f"AT_{a_type}"), a_val))
    return out


def lwpid_of(note: Note) -> int | None:
    """The LWP id of a ``NetBSD-CORE@<lwpid>`` note; None for other names."""
    prefix, sep, lwp = note.name.partition("@")
    if prefix != NAMESPACE or not sep or not lwp.isdigit():
        return None
    return int(lwp)


def _lwp_note(note: Note, ident: ElfIdent, thread: Thread) -> Decoded | None:
    getregs, getfpregs = REGSET_TYPES.get(ident.arch, (-1, -1))
    layout = REGISTERS.get(ident.arch)
    if note.type == getregs and layout is not None:
        if len(note.desc) < layout.size:
            raise CoreFormatError(
                note.desc_offset, f"PT_GETREGS: {len(note.desc)} bytes, struct reg is {layout.size}"
            )
        thread.registers = layout.decode(note.desc, ident.byteorder)
        thread.pc, thread.sp = thread.registers[layout.pc], thread.registers[layout.sp]
        return {"registers": thread.registers}
    if note.type == getfpregs:
        thread.fpregs = note.desc
        return {"size": len(note.desc)}
    thread.raw_notes[f"PT_FIRSTMACH+{note.type - 32}"] = len(note.desc)
    return None


def fold(notes: list[Note], ident: ElfIdent) -> NoteView:
    """Decode the ``NetBSD-CORE`` notes of a core into one :class:`NoteView`.

    Threads are in file order (NetBSD writes the LWPs newest first). Notes of other namespaces
    and unknown types stay raw. Raises CoreFormatError when a known note is malformed.
    """
    info: Decoded = {}
    auxv: list[AuxvEntry] = []
    threads: dict[int, Thread] = {}
    decoded: list[tuple[Note, Decoded | None]] = []
    for note in notes:
        lwp = lwpid_of(note)
        d: Decoded | None = None
        if note.name == NAMESPACE and note.type == ELF_NOTE_NETBSD_CORE_PROCINFO:
            d = info = decode_procinfo(note, ident)
        elif note.name == NAMESPACE and note.type == ELF_NOTE_NETBSD_CORE_AUXV:
            auxv = decode_auxv(note, ident)
            d = {"auxv": [(a.name, a.a_val) for a in auxv]}
        elif lwp is not None:
            d = _lwp_note(note, ident, threads.setdefault(lwp, Thread(lwp, {})))
        decoded.append((note, d))
    return _view(info, auxv, list(threads.values()), decoded)


def _view(
    info: Decoded,
    auxv: list[AuxvEntry],
    threads: list[Thread],
    decoded: list[tuple[Note, Decoded | None]],
) -> NoteView:
    signo, code = cast(int, info.get("cpi_signo", 0)), cast(int, info.get("cpi_sigcode", 0))
    siglwp = cast(int, info.get("cpi_siglwp", 0))
    crashed, signal = None, None
    if signo:
        name = signal_name(signo, "netbsd")
        signal = SignalInfo(
            signo, name, code, si_code_name(name, code, "netbsd"), source="procinfo"
        )
        for i, t in enumerate(threads):
            if siglwp in (0, t.tid):
                t.signal = signo
                crashed = i if crashed is None else crashed
    process = ProcessInfo(
        pid=cast(int | None, info.get("cpi_pid")),
        ppid=cast(int | None, info.get("cpi_ppid")),
        pgrp=cast(int | None, info.get("cpi_pgrp")),
        sid=cast(int | None, info.get("cpi_sid")),
        uid=cast(int | None, info.get("cpi_ruid")),
        gid=cast(int | None, info.get("cpi_rgid")),
        fname=cast(str | None, info.get("cpi_name")),
    )
    details: dict[str, object] = {"procinfo": info} if info else {}
    return NoteView("netbsd", process, threads, crashed, signal, auxv, [], details, decoded)
