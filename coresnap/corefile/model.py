"""The decoded view of a core file, common to every OS the reader supports.

These plain dataclasses are the contract between the core reader (which fills them from ELF
notes and program headers) and everything above it (``coresnap inspect``, the snapshot engines,
the analysis). OS-specific note decoders produce OS-specific records; the reader folds them
into these shapes. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

OSName = Literal["linux", "freebsd", "netbsd", "openbsd", "unknown"]
BuildIdSource = Literal["core", "file"]


@dataclass(frozen=True)
class Note:
    """One ELF note as stored: ``name`` is the namespace (``CORE``, ``LINUX``, ``FreeBSD`` …)."""

    name: str
    type: int
    desc: bytes
    offset: int  # file offset of the note header (n_namesz)
    desc_offset: int = 0  # file offset of the desc bytes (for errors that name an offset)


@dataclass(frozen=True)
class Segment:
    """A ``PT_LOAD`` program header, plus whether the file really holds its ``p_filesz`` bytes."""

    p_vaddr: int
    p_memsz: int
    p_offset: int
    p_filesz: int
    p_flags: int
    available: int  # bytes of p_filesz actually present in the file (< p_filesz: truncated)

    @property
    def end(self) -> int:
        return self.p_vaddr + self.p_memsz

    @property
    def truncated(self) -> bool:
        return self.available < self.p_filesz

    @property
    def perms(self) -> str:
        # PF_R = 4, PF_W = 2, PF_X = 1 (ELF gABI, "Program Header").
        f = self.p_flags
        return ("r" if f & 4 else "-") + ("w" if f & 2 else "-") + ("x" if f & 1 else "-")


@dataclass
class SignalInfo:
    """Why the process died: from ``NT_SIGINFO`` (Linux) or ``pr_cursig`` / LWP info (BSD)."""

    signo: int
    name: str  # "SIGSEGV", or "SIG<n>" for unknown numbers
    code: int | None = None  # si_code
    code_name: str | None = None  # "SEGV_MAPERR", "SI_USER", ...
    errno: int | None = None
    addr: int | None = None  # si_addr, for SIGSEGV/SIGBUS/SIGILL/SIGFPE/SIGTRAP
    sender_pid: int | None = None  # for signals sent by a process (SI_USER, SI_TKILL, SI_QUEUE)
    sender_uid: int | None = None
    source: str = "siginfo"  # "siginfo" (full NT_SIGINFO) or "cursig" (number only)


@dataclass
class Thread:
    """One thread (LWP) of the dumped process."""

    tid: int
    registers: dict[str, int]  # general registers by their ABI names ("rip", "rsp", "x0", "pc")
    signal: int = 0  # pr_cursig (Linux/FreeBSD) or the LWP's signal (NetBSD)
    name: str | None = None  # NT_THRMISC (FreeBSD) or LWP name; Linux only gives pr_fname
    pc: int | None = None
    sp: int | None = None
    siginfo: SignalInfo | None = None  # the NT_SIGINFO that follows this thread's NT_PRSTATUS
    fpregs: bytes | None = None  # NT_FPREGSET, raw
    raw_notes: dict[str, int] = field(default_factory=dict)  # other per-thread notes: name -> size
    pr_info: dict[str, int] = field(default_factory=dict)  # pr_pid/ppid/pgrp/sid, times, sighold...


@dataclass
class ProcessInfo:
    """``NT_PRPSINFO`` (and FreeBSD ``NT_PROCSTAT_PROC``) facts about the process."""

    pid: int | None = None
    ppid: int | None = None
    pgrp: int | None = None
    sid: int | None = None
    uid: int | None = None
    gid: int | None = None
    fname: str | None = None  # pr_fname: the executable's name, truncated to 15/16 bytes
    psargs: str | None = None  # pr_psargs: the command line, truncated to 80 bytes
    state: str | None = None  # pr_sname
    nice: int | None = None
    flag: int | None = None
    exe: str | None = None  # full executable path (NT_FILE/AT_EXECFN/VMMAP), when known


@dataclass
class Mapping:
    """One memory mapping of the process: from ``NT_FILE`` / VMMAP joined with ``PT_LOAD``."""

    start: int
    end: int
    perms: str  # "r-x" etc.; "???" when the core does not say
    file_offset: int = 0  # offset in ``path`` at which this mapping starts, in bytes
    path: str | None = None  # the mapped file; None for anonymous memory
    in_core: bool = False  # some bytes of the range are dumped in the core
    label: str | None = None  # anonymous memory the core identifies: "[stack]", "[vdso]"


@dataclass
class Module:
    """A mapped ELF object (the executable, a shared library, the vDSO)."""

    path: str
    start: int  # lowest mapped address
    end: int
    load_bias: int | None = None  # difference between run-time and link-time addresses
    build_id: str | None = None  # hex
    build_id_source: BuildIdSource | None = None
    is_executable: bool = False
    file_build_id: str | None = None  # build id of the file found on disk, when it differs


@dataclass
class AuxvEntry:
    a_type: int
    name: str  # "AT_PHDR", or "AT_<n>" when unknown
    a_val: int


@dataclass(frozen=True)
class ElfIdent:
    """What the ELF header says about how to read everything else."""

    elfclass: int  # 32 or 64
    byteorder: Literal["<", ">"]
    machine: int  # e_machine
    arch: str  # "x86_64", "i386", "aarch64", "arm", "ppc64le", "s390x", ... or "em<n>"
    osabi: int = 0  # e_ident[EI_OSABI]
    flags: int = 0  # e_flags (MIPS: n32 vs o32)


@dataclass
class NoteView:
    """What one OS's note decoder makes of all the notes of a core.

    Each OS module (``linux``, ``freebsd``, ``netbsd``) provides ``fold(notes, ident) ->
    NoteView``; the core reader picks the module by the notes' namespaces and then joins the
    view with the program headers (mappings, memory, modules).
    """

    os: OSName
    process: ProcessInfo
    threads: list[Thread]  # in file order
    crashed_index: int | None  # index into threads of the thread that took the signal
    signal: SignalInfo | None
    auxv: list[AuxvEntry] = field(default_factory=list)
    files: list[Mapping] = field(default_factory=list)  # file-backed mappings (NT_FILE, VMMAP)
    details: dict[str, object] = field(default_factory=dict)  # OS-specific decoded facts
    decoded_notes: list[tuple[Note, dict[str, object] | None]] = field(default_factory=list)
