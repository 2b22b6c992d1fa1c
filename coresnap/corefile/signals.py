"""Linux signal numbers, ``si_code`` values and auxv ``AT_*`` types, by their header names.

Numbers from the kernel's ``include/uapi/asm-generic/signal.h`` (and the MIPS, SPARC and Alpha
variants, which number signals differently), ``siginfo.h`` and ``auxvec.h``.
"""

from __future__ import annotations

_GENERIC = (
    "HUP INT QUIT ILL TRAP ABRT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM STKFLT CHLD CONT STOP "
    "TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO PWR SYS"
)
_MIPS = (
    "HUP INT QUIT ILL TRAP ABRT EMT FPE KILL BUS SEGV SYS PIPE ALRM TERM USR1 USR2 CHLD PWR WINCH "
    "URG IO STOP TSTP CONT TTIN TTOU VTALRM PROF XCPU XFSZ"
)
_SPARC = (
    "HUP INT QUIT ILL TRAP ABRT EMT FPE KILL BUS SEGV SYS PIPE ALRM TERM URG STOP TSTP CONT CHLD "
    "TTIN TTOU IO XCPU XFSZ VTALRM PROF WINCH PWR USR1 USR2"
)


def _table(names: str) -> dict[int, str]:
    return {i: f"SIG{name}" for i, name in enumerate(names.split(), start=1)}


_SIGNALS = {"generic": _table(_GENERIC), "mips": _table(_MIPS), "sparc": _table(_SPARC)}


def _family(arch: str) -> str:
    if arch.startswith("mips"):
        return "mips"
    if arch.startswith(("sparc", "alpha")):
        return "sparc"
    return "generic"


def signal_name(signo: int, arch: str = "x86_64") -> str:
    """``SIGSEGV`` etc. for a Linux signal number on ``arch``; ``SIG<n>`` when unnamed."""
    return _SIGNALS[_family(arch)].get(signo, f"SIG{signo}")


# si_code values valid for every signal (siginfo.h: SI_USER ... SI_ASYNCNL, and SI_KERNEL).
SI_USER = 0
SI_KERNEL = 0x80
SI_QUEUE = -1
SI_TIMER = -2
SI_TKILL = -6
_SI_GENERIC = {
    0: "SI_USER",
    0x80: "SI_KERNEL",
    -1: "SI_QUEUE",
    -2: "SI_TIMER",
    -3: "SI_MESGQ",
    -4: "SI_ASYNCIO",
    -5: "SI_SIGIO",
    -6: "SI_TKILL",
    -7: "SI_DETHREAD",
    -60: "SI_ASYNCNL",
}


def _codes(prefix: str, names: str) -> dict[int, str]:
    return {i: f"{prefix}_{n}" for i, n in enumerate(names.split(), start=1) if n != "-"}


_SI_BY_SIGNAL = {
    "SIGILL": _codes("ILL", "ILLOPC ILLOPN ILLADR ILLTRP PRVOPC PRVREG COPROC BADSTK BADIADDR"),
    "SIGFPE": _codes(
        "FPE", "INTDIV INTOVF FLTDIV FLTOVF FLTUND FLTRES FLTINV FLTSUB - - - - - FLTUNK CONDTRAP"
    ),
    "SIGSEGV": _codes(
        "SEGV", "MAPERR ACCERR BNDERR PKUERR ACCADI ADIDERR ADIPERR MTEAERR MTESERR CPERR"
    ),
    "SIGBUS": _codes("BUS", "ADRALN ADRERR OBJERR MCEERR_AR MCEERR_AO"),
    "SIGTRAP": _codes("TRAP", "BRKPT TRACE BRANCH HWBKPT UNK PERF"),
    "SIGCHLD": _codes("CLD", "EXITED KILLED DUMPED TRAPPED STOPPED CONTINUED"),
    "SIGPOLL": _codes("POLL", "IN OUT MSG ERR PRI HUP"),
    "SIGIO": _codes("POLL", "IN OUT MSG ERR PRI HUP"),
    "SIGSYS": _codes("SYS", "SECCOMP USER_DISPATCH"),
}

# Signals whose siginfo union is _sigfault (si_addr): the kernel's "synchronous" faults.
FAULT_SIGNALS = frozenset({"SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE", "SIGTRAP", "SIGEMT"})


def si_code_name(signame: str, code: int) -> str | None:
    """``SEGV_MAPERR``, ``SI_USER`` ...; None when the code has no name for this signal."""
    if code > 0 and code != SI_KERNEL:
        return _SI_BY_SIGNAL.get(signame, {}).get(code)
    return _SI_GENERIC.get(code)


def sent_by_process(code: int) -> bool:
    """True for si_code values whose union is _kill/_rt (si_pid, si_uid of the sender)."""
    return code <= 0 and code != SI_TIMER


AT_NAMES = {
    0: "AT_NULL",
    1: "AT_IGNORE",
    2: "AT_EXECFD",
    3: "AT_PHDR",
    4: "AT_PHENT",
    5: "AT_PHNUM",
    6: "AT_PAGESZ",
    7: "AT_BASE",
    8: "AT_FLAGS",
    9: "AT_ENTRY",
    10: "AT_NOTELF",
    11: "AT_UID",
    12: "AT_EUID",
    13: "AT_GID",
    14: "AT_EGID",
    15: "AT_PLATFORM",
    16: "AT_HWCAP",
    17: "AT_CLKTCK",
    18: "AT_FPUCW",
    19: "AT_DCACHEBSIZE",
    20: "AT_ICACHEBSIZE",
    21: "AT_UCACHEBSIZE",
    22: "AT_IGNOREPPC",
    23: "AT_SECURE",
    24: "AT_BASE_PLATFORM",
    25: "AT_RANDOM",
    26: "AT_HWCAP2",
    27: "AT_RSEQ_FEATURE_SIZE",
    28: "AT_RSEQ_ALIGN",
    29: "AT_HWCAP3",
    30: "AT_HWCAP4",
    31: "AT_EXECFN",
    32: "AT_SYSINFO",
    33: "AT_SYSINFO_EHDR",
    34: "AT_L1I_CACHESHAPE",
    35: "AT_L1D_CACHESHAPE",
    36: "AT_L2_CACHESHAPE",
    37: "AT_L3_CACHESHAPE",
    40: "AT_L1I_CACHESIZE",
    41: "AT_L1I_CACHEGEOMETRY",
    42: "AT_L1D_CACHESIZE",
    43: "AT_L1D_CACHEGEOMETRY",
    44: "AT_L2_CACHESIZE",
    45: "AT_L2_CACHEGEOMETRY",
    46: "AT_L3_CACHESIZE",
    47: "AT_L3_CACHEGEOMETRY",
    51: "AT_MINSIGSTKSZ",
}


def at_name(a_type: int) -> str:
    """``AT_PHDR`` etc.; ``AT_<n>`` for types this table does not name."""
    return AT_NAMES.get(a_type, f"AT_{a_type}")
