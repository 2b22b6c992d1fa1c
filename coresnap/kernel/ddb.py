"""ddb(4) output and the kernel message buffer, as text.

ddb's ``bt`` prints one line per frame (``sys/amd64/amd64/db_trace.c``, ``db_print_stack_entry``):
``name() at sym+0xoff/frame 0xfp``, with ``--- trap 0xc, rip = ..., rsp = ..., rbp = ... ---``
where a trap frame was crossed; arm64 (``sys/arm64/arm64/db_trace.c``) prints
``name() at sym+0xoff`` then ``\\t pc = 0x...  lr = 0x...``. The same lines follow
``KDB: stack backtrace:`` in the message buffer when the kernel panics.

The message buffer holds what ``trap_fatal()`` (``sys/amd64/amd64/trap.c``: ``Fatal trap 12:
page fault while in kernel mode``, ``fault virtual address = 0x18``, ...), ``vpanic()``
(``sys/kern/kern_shutdown.c``: ``panic: <message>``, ``cpuid = N``, ``time = N``) and
``kern_reboot()`` (``Uptime: 3d4h12m33s``) printed.
"""

from __future__ import annotations

import re

from coresnap.kernel.model import Backtrace, KernelFrame, MessageBuffer, Trap

_FRAME = re.compile(
    r"^(?P<name>\S+?)\(\) at (?P<sym>[^\s/+]+)(?:\+(?P<off>0x[0-9a-fA-F]+))?"
    r"(?:/frame (?P<frame>0x[0-9a-fA-F]+))?\s*$"
)
_ARM64_PC = re.compile(r"^\s+pc = (0x[0-9a-fA-F]+)")
_TRAP_LINE = re.compile(r"^--- (?P<what>.*?) ---\s*$")
_TRAP_PC = re.compile(r"\b(?:rip|eip|pc|srr0) = (0x[0-9a-fA-F]+)")
_TRACING = re.compile(r"^Tracing pid (\d+) tid (\d+)")
_PROMPT = re.compile(r"^db(?::\d+:[^>]*)?>\s*(?P<command>.*?)\s*$")
_FATAL = re.compile(r"^Fatal trap (\d+): (.*?)(?: while in (\w+) mode)?\s*$")
_KEY_VALUE = re.compile(r"^(fault virtual address|fault code|instruction pointer|stack pointer|"
                        r"frame pointer|current process|trap number)\s*=\s*(.*?)\s*$")  # fmt: skip
_UPTIME = re.compile(r"^Uptime: (?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(\d+)s\s*$")
_CURTHREAD = re.compile(r'^curthread\s*=\s*0x[0-9a-f]+: pid (\d+) tid (\d+).*?"(.*)"')
MAX_FRAMES = 256  # ddb stops at about 100 itself (db_trace's count); more is a corrupt buffer


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text, 0)
    except ValueError:
        return None


def parse_frames(lines: list[str], source: str) -> Backtrace:
    """The frames of a ddb backtrace in ``lines`` (the output of one ``bt``, or what follows
    ``KDB: stack backtrace:``); stops at the first line that is none of a backtrace's."""
    bt = Backtrace(source=source)
    pending_trap: str | None = None
    for line in lines:
        line = line.rstrip("\r\n")
        if m := _TRACING.match(line):
            bt.pid, bt.tid = int(m.group(1)), int(m.group(2))
            continue
        if m := _FRAME.match(line):
            sym = m.group("sym")
            function = None if sym.startswith(("0x", "??")) else sym
            frame = KernelFrame(function=function, offset=_int(m.group("off")),
                                frame_address=_int(m.group("frame")))  # fmt: skip
            if function is None and sym.startswith("0x"):
                frame.pc = _int(sym)
            if pending_trap is not None:
                frame.after_trap = pending_trap
                pc = _TRAP_PC.search(pending_trap)
                frame.pc = frame.pc if pc is None else _int(pc.group(1))
                pending_trap = None
            bt.frames.append(frame)
            if len(bt.frames) >= MAX_FRAMES:
                break
            continue
        if (m := _ARM64_PC.match(line)) and bt.frames:
            bt.frames[-1].pc = bt.frames[-1].pc or _int(m.group(1))
            continue
        if m := _TRAP_LINE.match(line):
            if m.group("what").startswith(("syscall", "fork_trampoline")):
                break  # below this the stack is the user's: ddb stops there too
            pending_trap = m.group("what")
            continue
        if line.strip().startswith(("sp = ", "fp = ")) or not line.strip():
            continue
        if bt.frames:
            break
    return bt


def commands(text: str) -> list[tuple[str, list[str]]]:
    """Split a ddb capture (``ddb.txt``) into ``(command, output lines)`` at each prompt
    (``db:0:kdb.enter.panic>  bt``, or a plain ``db> bt``)."""
    out: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if m := _PROMPT.match(line):
            out.append((m.group("command"), []))
        elif out:
            out[-1][1].append(line)
    return out


def panicking_backtrace(text: str) -> Backtrace | None:
    """The first ``bt``/``trace`` of a ddb capture without a thread argument: the thread that
    entered the debugger (the panicking one)."""
    for command, output in commands(text):
        words = command.split()
        if words and words[0] in ("bt", "trace", "where") and len(words) == 1:
            bt = parse_frames(output, "ddb bt")
            if bt.frames:
                return bt
    return None


def show_pcpu(text: str) -> tuple[int, int, str] | None:
    """(pid, tid, name) of ``curthread`` in a ddb ``show pcpu`` output."""
    for command, output in commands(text):
        if command.split()[:2] == ["show", "pcpu"]:
            for line in output:
                if m := _CURTHREAD.match(line.strip()):
                    return int(m.group(1)), int(m.group(2)), m.group(3)
    return None


def ps_count(text: str) -> int | None:
    """Processes listed by ddb's ``ps`` (lines whose first column is a pid)."""
    for command, output in commands(text):
        if command.split()[:1] == ["ps"]:
            return sum(1 for line in output[1:] if line.split()[:1] and line.split()[0].isdigit()
                       and len(line.split()) >= 5)  # fmt: skip
    return None


def _uptime(m: re.Match[str]) -> float:
    d, h, mins, s = (int(g) if g else 0 for g in m.groups())
    return float(((d * 24 + h) * 60 + mins) * 60 + s)


def parse_msgbuf(text: str) -> MessageBuffer:
    """The panic facts of a kernel message buffer (the last panic wins: a message buffer
    survives warm reboots and may hold an older one above)."""
    mb = MessageBuffer()
    lines = text.splitlines()
    for i, raw in enumerate(lines):
        line = raw.strip()
        if m := _FATAL.match(line):
            mb.trap = Trap(int(m.group(1)), m.group(2), m.group(3))
        elif (m := _KEY_VALUE.match(line)) and mb.trap is not None:
            _trap_fact(mb, m.group(1), m.group(2))
        elif line.startswith("panic: "):
            mb.panic = line[len("panic: ") :]
        elif line.startswith("cpuid = "):
            mb.cpuid = _int(line.split()[2].rstrip(";"))
        elif line.startswith("time = "):
            mb.time = _int(line.split()[2])
        elif m := _UPTIME.match(line):
            mb.uptime = _uptime(m)
        elif line == "KDB: stack backtrace:":
            bt = parse_frames(lines[i + 1 : i + 1 + 4 * MAX_FRAMES], "msgbuf KDB: stack backtrace")
            if bt.frames:
                mb.backtrace = bt
    return mb


def _trap_fact(mb: MessageBuffer, key: str, value: str) -> None:
    trap = mb.trap
    assert trap is not None
    if key == "fault virtual address":
        trap.fault_address = _int(value)
    elif key == "fault code":
        trap.fault_code = value
    elif key in ("instruction pointer", "stack pointer", "frame pointer"):
        # "0x20:0xffffffff80c3b2a5": segment selector, then the address
        address = _int(value.rpartition(":")[2])
        setattr(trap, key.replace(" ", "_"), address)
    elif key == "current process":
        m = re.match(r"(\d+) \((.*)\)", value)
        if m:
            mb.process_pid, mb.process_name = int(m.group(1)), m.group(2)
