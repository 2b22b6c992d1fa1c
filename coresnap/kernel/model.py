"""What a FreeBSD kernel dump says, once its text has been read: plain dataclasses, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field

# Every text file of a dump is read up to this many bytes: a ddb capture buffer is 48 KiB to
# a few MiB (debug.ddb.capture.bufsize), a core.txt some MiB with vmstat -z and fstat.
MAX_TEXT = 32 << 20


@dataclass
class KernelFrame:
    """One frame of the panicking thread, as ddb's ``bt`` or kgdb's ``bt`` printed it."""

    function: str | None  # None for ddb's ``??`` and kgdb's ``?? ()``
    offset: int | None = None  # ddb: the ``+0x37`` of ``sym+0x37``
    pc: int | None = None  # kgdb prints it (except for frame 0 and inline frames); ddb rarely
    file: str | None = None
    line: int | None = None
    module: str | None = None  # kgdb's ``from /boot/kernel/zfs.ko``, else the kernel
    frame_address: int | None = None  # ddb's ``/frame 0x...``
    after_trap: str | None = None  # the ``--- trap 0xc, ... ---`` line just above this frame
    inline: bool = False


@dataclass
class Trap:
    """The ``Fatal trap N: ...`` block the trap handler prints before panicking (amd64/i386)."""

    number: int
    name: str
    mode: str | None = None  # "kernel" or "user"
    fault_address: int | None = None
    fault_code: str | None = None
    instruction_pointer: int | None = None
    stack_pointer: int | None = None
    frame_pointer: int | None = None


@dataclass
class Backtrace:
    frames: list[KernelFrame] = field(default_factory=list)
    pid: int | None = None
    tid: int | None = None
    source: str = ""  # "ddb bt", "kgdb bt", "msgbuf KDB: stack backtrace"


@dataclass
class MessageBuffer:
    """The facts vpanic(), the trap handler and kern_reboot() print into the message buffer."""

    panic: str | None = None
    trap: Trap | None = None
    cpuid: int | None = None
    time: int | None = None  # vpanic's ``time = N`` (time_second)
    uptime: float | None = None  # kern_reboot's ``Uptime: 1d2h3m4s``
    process_pid: int | None = None  # ``current process = 1234 (sh)``
    process_name: str | None = None
    backtrace: Backtrace | None = None  # ``KDB: stack backtrace:``


@dataclass
class DumpHeader:
    """``info.N``: savecore's copy of the kernel dump header (``printheader()`` in savecore.c)."""

    device: str | None = None
    architecture: str | None = None
    dump_length: int | None = None
    compression: str | None = None
    dumptime: float | None = None
    hostname: str | None = None
    magic: str | None = None
    version: str | None = None
    panic: str | None = None
    parity: int | None = None
    bounds: int | None = None
    status: str | None = None


@dataclass
class KernelDump:
    """One kernel dump's text, parsed: what the snapshot is made of."""

    source: str  # "textdump" or "crashinfo"
    header: DumpHeader = field(default_factory=DumpHeader)
    msgbuf: MessageBuffer = field(default_factory=MessageBuffer)
    backtrace: Backtrace = field(default_factory=Backtrace)
    panic: str | None = None
    version: str | None = None  # the kernel's version string, first line
    hostname: str | None = None
    machine: str | None = None
    crash_time: float | None = None
    curthread_pid: int | None = None
    curthread_tid: int | None = None
    curthread_name: str | None = None
    processes: int | None = None  # lines of ps output
    files: list[str] = field(default_factory=list)  # the texts this was read from
    warnings: list[str] = field(default_factory=list)
