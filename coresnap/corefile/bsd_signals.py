"""FreeBSD and NetBSD signal numbers and ``si_code`` values, by their header names.

The BSDs number signals alike up to 31 (FreeBSD ``sys/sys/signal.h``, NetBSD
``sys/sys/signal.h``) and unlike Linux (``SIGBUS`` is 10, ``SIGUSR1`` 30), so a BSD core must
never be named through the Linux table. The generic ``si_code`` values differ between the two
BSDs: FreeBSD puts them at 0x10001.. (``SI_USER``), NetBSD uses 0 and negatives like Linux
but says ``SI_NOINFO`` (32767) where nothing is known.
"""

from __future__ import annotations

from typing import Literal

BSD = Literal["freebsd", "netbsd"]

_COMMON = (
    "HUP INT QUIT ILL TRAP ABRT EMT FPE KILL BUS SEGV SYS PIPE ALRM TERM URG STOP TSTP CONT CHLD "
    "TTIN TTOU IO XCPU XFSZ VTALRM PROF WINCH INFO USR1 USR2"
)
_EXTRA: dict[BSD, dict[int, str]] = {
    "freebsd": {32: "SIGTHR", 33: "SIGLIBRT"},
    "netbsd": {32: "SIGPWR"},
}
_NAMES = {i: f"SIG{n}" for i, n in enumerate(_COMMON.split(), start=1)}

# Signals whose siginfo carries the faulting address in si_addr.
FAULT_SIGNALS = frozenset({"SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE", "SIGTRAP", "SIGEMT"})

# FreeBSD sys/sys/signal.h: "codes for SIGILL/SIGFPE/..." and the SI_* values.
_FREEBSD_GENERIC = {
    0: "SI_NOINFO",
    0x10001: "SI_USER",
    0x10002: "SI_QUEUE",
    0x10003: "SI_TIMER",
    0x10004: "SI_ASYNCIO",
    0x10005: "SI_MESGQ",
    0x10006: "SI_KERNEL",
    0x10007: "SI_LWP",
}
# NetBSD sys/sys/siginfo.h.
_NETBSD_GENERIC = {
    0: "SI_USER",
    -1: "SI_QUEUE",
    -2: "SI_TIMER",
    -3: "SI_ASYNCIO",
    -4: "SI_MESGQ",
    -5: "SI_LWP",
    32767: "SI_NOINFO",
}


def _codes(prefix: str, names: str) -> dict[int, str]:
    return {i: f"{prefix}_{n}" for i, n in enumerate(names.split(), start=1) if n != "-"}


_ILL = _codes("ILL", "ILLOPC ILLOPN ILLADR ILLTRP PRVOPC PRVREG COPROC BADSTK")
_CLD = _codes("CLD", "EXITED KILLED DUMPED TRAPPED STOPPED CONTINUED")
_FREEBSD_FAULT = {
    "SIGILL": _ILL,
    # FreeBSD lists FPE_INTOVF before FPE_INTDIV (the reverse of POSIX order and NetBSD).
    "SIGFPE": _codes("FPE", "INTOVF INTDIV FLTDIV FLTOVF FLTUND FLTRES FLTINV FLTSUB FLTIDO"),
    "SIGSEGV": {**_codes("SEGV", "MAPERR ACCERR"), 100: "SEGV_PKUERR"},
    "SIGBUS": {**_codes("BUS", "ADRALN ADRERR OBJERR"), 100: "BUS_OOMERR"},
    "SIGTRAP": _codes("TRAP", "BRKPT TRACE DTRACE CAP"),
    "SIGCHLD": _CLD,
}
_NETBSD_FAULT = {
    "SIGILL": _ILL,
    "SIGFPE": _codes("FPE", "INTDIV INTOVF FLTDIV FLTOVF FLTUND FLTRES FLTINV FLTSUB"),
    "SIGSEGV": _codes("SEGV", "MAPERR ACCERR"),
    "SIGBUS": _codes("BUS", "ADRALN ADRERR OBJERR"),
    "SIGTRAP": _codes("TRAP", "BRKPT TRACE EXEC CHLD LWP DBREG SCE SCX"),
    "SIGCHLD": _CLD,
}


def signal_name(signo: int, os: BSD) -> str:
    """``SIGSEGV`` etc. for a FreeBSD or NetBSD signal number; ``SIG<n>`` when unnamed."""
    return _NAMES.get(signo) or _EXTRA[os].get(signo, f"SIG{signo}")


def si_code_name(signame: str, code: int, os: BSD) -> str | None:
    """``SEGV_MAPERR``, ``SI_USER`` ...; None when the code has no name for this signal."""
    generic = _FREEBSD_GENERIC if os == "freebsd" else _NETBSD_GENERIC
    if code in generic:
        return generic[code]
    faults = _FREEBSD_FAULT if os == "freebsd" else _NETBSD_FAULT
    return faults.get(signame, {}).get(code)


def sent_by_process(code: int, os: BSD) -> bool:
    """True for si_code values meaning another process (or thread) sent the signal."""
    if os == "freebsd":
        return code in (0x10001, 0x10002, 0x10007)  # SI_USER, SI_QUEUE, SI_LWP
    return code in (0, -1, -5)
