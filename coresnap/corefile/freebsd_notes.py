"""FreeBSD core notes (namespace ``FreeBSD``): the per-thread and process decoders.

The kernel writes them in ``sys/kern/imgact_elf.c`` (``__elfN(prepare_notes)``): one
``NT_PRPSINFO``; then per thread ``NT_PRSTATUS``, ``NT_FPREGSET``, ``NT_THRMISC``,
``NT_PTLWPINFO`` (and machine-dependent register sets such as ``NT_X86_XSTATE``), the thread
that is dumping (the one that took the signal) first; then the ``NT_PROCSTAT_*`` notes
(:mod:`.freebsd_procstat`). Layouts: ``sys/sys/procfs.h`` (``prstatus_t``, ``prpsinfo_t``,
``thrmisc_t``), ``sys/sys/ptrace.h`` (``struct ptrace_lwpinfo``), ``sys/sys/signal.h``
(``siginfo_t``), ``sys/x86/include/reg.h`` and ``sys/arm64/include/reg.h`` (``struct reg``).

FreeBSD's ``pr_cursig`` is the process's signal, the same in every thread; only the order of
the threads says which one faulted. Since FreeBSD 11 the dumping thread's ``NT_PTLWPINFO``
carries the real ``siginfo_t`` (``proc_td_siginfo_capture``), which gives code and address.
"""

from __future__ import annotations

from typing import cast

from coresnap.corefile import freebsd_procstat as P
from coresnap.corefile.bsd_signals import FAULT_SIGNALS, sent_by_process, si_code_name, signal_name
from coresnap.corefile.model import ElfIdent, Note, SignalInfo
from coresnap.corefile.reader import cstring, unpack_from
from coresnap.corefile.registers import RegisterLayout
from coresnap.errors import CoreFormatError

Decoded = dict[str, object]

NT_PRSTATUS, NT_FPREGSET, NT_PRPSINFO, NT_THRMISC = 1, 2, 3, 7
NT_PROCSTAT_PROC, NT_PROCSTAT_FILES, NT_PROCSTAT_VMMAP, NT_PROCSTAT_GROUPS = 8, 9, 10, 11
NT_PROCSTAT_UMASK, NT_PROCSTAT_RLIMIT, NT_PROCSTAT_OSREL, NT_PROCSTAT_PSSTRINGS = 12, 13, 14, 15
NT_PROCSTAT_AUXV, NT_PTLWPINFO = 16, 17
# Per-thread register sets kept raw (sys/sys/elf_common.h).
RAW_THREAD_NOTES = {0x200: "NT_X86_SEGBASES", 0x202: "NT_X86_XSTATE", 0x400: "NT_ARM_VFP",
                    0x401: "NT_ARM_TLS", 0x406: "NT_ARM_ADDR_MASK"}  # fmt: skip
NOTE_NAMES = {
    1: "NT_PRSTATUS", 2: "NT_FPREGSET", 3: "NT_PRPSINFO", 7: "NT_THRMISC", 8: "NT_PROCSTAT_PROC",
    9: "NT_PROCSTAT_FILES", 10: "NT_PROCSTAT_VMMAP", 11: "NT_PROCSTAT_GROUPS",
    12: "NT_PROCSTAT_UMASK", 13: "NT_PROCSTAT_RLIMIT", 14: "NT_PROCSTAT_OSREL",
    15: "NT_PROCSTAT_PSSTRINGS", 16: "NT_PROCSTAT_AUXV", 17: "NT_PTLWPINFO", **RAW_THREAD_NOTES,
}  # fmt: skip
PL_FLAG_SI = 0x20  # sys/sys/ptrace.h: pl_siginfo is valid


def _slots(width: int, names: str) -> tuple[tuple[str, int], ...]:
    return tuple((n, width) for n in names.split())


# struct reg by architecture (FreeBSD's gregset_t). amd64: sys/x86/include/reg.h __reg64;
# i386: __reg32; arm64: sys/arm64/include/reg.h x[30], lr, sp, elr, spsr (32-bit, padded to 8).
# arm64's lr and elr are named x30 and pc, as Linux and NetBSD name them, so that every
# consumer (the unwinder's DWARF mapping) sees one aarch64 register set whatever the OS.
REGISTERS: dict[str, RegisterLayout] = {
    "x86_64": RegisterLayout(
        _slots(8, "r15 r14 r13 r12 r11 r10 r9 r8 rdi rsi rbp rbx rdx rcx rax")
        + (("trapno", 4), ("fs", 2), ("gs", 2), ("err", 4), ("es", 2), ("ds", 2))
        + _slots(8, "rip cs rflags rsp ss"),
        "rip",
        "rsp",
    ),
    "i386": RegisterLayout(
        _slots(4, "fs es ds edi esi ebp isp ebx edx ecx eax trapno err eip cs eflags esp ss gs"),
        "eip",
        "esp",
    ),
    "aarch64": RegisterLayout(
        _slots(8, " ".join(f"x{i}" for i in range(31)) + " sp pc") + (("spsr", 4), ("_", 4)),
        "pc",
        "sp",
    ),
}


def _lp64(ident: ElfIdent) -> bool:
    return ident.elfclass == 64


def decode_prstatus(note: Note, ident: ElfIdent) -> tuple[Decoded, dict[str, int]]:
    """``prstatus_t``: its fields and ``pr_reg`` by name (raw hex when the arch is unknown).

    Raises CoreFormatError when the desc is shorter than the header or its ``pr_reg``.
    """
    o, d, base = ident.byteorder, note.desc, note.desc_offset
    fmt, reg_at = (o + "i4xQQQiii", 48) if _lp64(ident) else (o + "iIIIiii", 28)
    values = unpack_from(fmt, d, 0, "prstatus_t", base)
    names = "pr_version pr_statussz pr_gregsetsz pr_fpregsetsz pr_osreldate pr_cursig pr_pid"
    fields: Decoded = dict(zip(names.split(), values, strict=True))
    layout = REGISTERS.get(ident.arch)
    if layout is None:
        fields["pr_reg_raw"] = d[reg_at:].hex()
        return fields, {}
    if len(d) < reg_at + layout.size:
        raise CoreFormatError(
            base + reg_at, f"NT_PRSTATUS: pr_reg needs {layout.size} bytes, {len(d) - reg_at} left"
        )
    return fields, layout.decode(d[reg_at:], o)


def decode_prpsinfo(note: Note, ident: ElfIdent) -> Decoded:
    """``prpsinfo_t``: pr_fname, pr_psargs and (since FreeBSD 8, same version) pr_pid.

    Raises CoreFormatError when the desc is cut before pr_psargs ends.
    """
    o, d, base = ident.byteorder, note.desc, note.desc_offset
    fmt, pid_at = (o + "i4xQ17s81s", 116) if _lp64(ident) else (o + "iI17s81s", 108)
    version, size, fname, psargs = unpack_from(fmt, d, 0, "prpsinfo_t", base)
    out: Decoded = {
        "pr_version": version,
        "pr_psinfosz": size,
        "pr_fname": cstring(cast(bytes, fname)),
        "pr_psargs": cstring(cast(bytes, psargs)).rstrip(" "),
    }
    if len(d) >= pid_at + 4:
        (out["pr_pid"],) = unpack_from(o + "i", d, pid_at, "pr_pid", base)
    return out


def decode_thrmisc(note: Note) -> Decoded:
    """``thrmisc_t``: pr_tname[MAXCOMLEN + 1] (MAXCOMLEN is 19) and a pad."""
    return {"pr_tname": cstring(note.desc[:20])}


def decode_ptlwpinfo(note: Note, ident: ElfIdent) -> tuple[Decoded, SignalInfo | None]:
    """``int`` structsize + ``struct ptrace_lwpinfo``; the siginfo when PL_FLAG_SI is set.

    The struct follows the 4-byte structsize unaligned (sbuf_bcat). Raises CoreFormatError
    when the structsize is absurd or the desc too short for the struct through pl_tdname.
    """
    lp64 = _lp64(ident)
    need = 148 if lp64 else 128  # through pl_tdname
    P.structsize(note, ident, need, "NT_PTLWPINFO")
    o, base, d = ident.byteorder, note.desc_offset + 4, note.desc[4:]
    if len(d) < need:
        raise CoreFormatError(base, f"NT_PTLWPINFO: {len(d)} bytes, ptrace_lwpinfo needs {need}")
    lwpid, event, flags = unpack_from(o + "iii", d, 0, "pl_lwpid", base)
    si_at, name_at = (48, 128) if lp64 else (44, 108)  # gdb: LWPINFO{64,32}_PL_SIGINFO
    sig = unpack_from(o + ("iiiiIiQ" if lp64 else "iiiiIiI"), d, si_at, "pl_siginfo", base)
    out: Decoded = {
        "pl_lwpid": lwpid,
        "pl_event": event,
        "pl_flags": flags,
        "pl_sigmask": d[12:28].hex(),
        "pl_siglist": d[28:44].hex(),
        "pl_tdname": cstring(d[name_at : name_at + 20]),
    }
    signo, errno, code, pid, uid, _status, addr = sig
    if not flags & PL_FLAG_SI or signo == 0:
        return out, None
    name = signal_name(signo, "freebsd")
    info = SignalInfo(signo, name, code, si_code_name(name, code, "freebsd"), errno)
    if sent_by_process(code, "freebsd"):
        info.sender_pid, info.sender_uid = pid, uid
    elif name in FAULT_SIGNALS:
        info.addr = addr
    out["pl_siginfo"] = {"si_signo": signo, "si_errno": errno, "si_code": code,
                         "si_pid": pid, "si_uid": uid, "si_addr": addr}  # fmt: skip
    return out, info
