"""crashinfo(8)'s text report ``core.txt.N``, and kgdb's ``bt`` inside it.

``/usr/sbin/crashinfo`` (``usr.sbin/crashinfo/crashinfo.sh``) writes, in this order:
``<host> dumped core - see /var/crash/vmcore.N``, the date, ``<ostype> <host> <osrelease>
<version> <machine>``, ``panic: <panic string of info.N>``, then kgdb's output for ``bt``
(``Unread portion of the kernel message buffer:`` and the frames of the thread that dumped,
``#0  doadump (...) at /usr/src/sys/kern/kern_shutdown.c:405``), then one section per
command (``ps -axlww``, ``vmstat -s``, ``dmesg``, ``kernel config``, ``ddb capture buffer``
...), each opened by a line of 72 dashes and the command's name.
"""

from __future__ import annotations

import re

from coresnap.kernel import ddb
from coresnap.kernel.model import Backtrace, KernelFrame

RULE = "-" * 72
_KGDB_FRAME = re.compile(
    r"^#(?P<n>\d+)\s+(?:(?P<pc>0x[0-9a-fA-F]+) in )?(?P<func><signal handler called>|[^\s(]+)"
    r"\s*(?:\((?P<args>.*?)\))?(?: at (?P<file>\S+):(?P<line>\d+)| from (?P<lib>\S+))?\s*$"
)
_KGDB_PROMPT = re.compile(r"^(?:\(kgdb\)\s*)+")


def sections(text: str) -> dict[str, str]:
    """``{"": header and kgdb output, "ps -axlww": ..., "dmesg": ..., ...}``."""
    parts = text.split("\n" + RULE + "\n")
    out = {"": parts[0]}
    for part in parts[1:]:
        name, _, body = part.partition("\n")
        out.setdefault(name.strip(), body)
    return out


def header(text: str) -> dict[str, str]:
    """The lines crashinfo writes before kgdb runs: host, vmcore, uname line, panic."""
    found: dict[str, str] = {}
    for line in text.splitlines()[:12]:
        if m := re.match(r"^(\S+) dumped core - see (\S+)", line):
            found["hostname"], found["vmcore"] = m.group(1), m.group(2)
        elif line.startswith("panic: ") and "panic" not in found:
            found["panic"] = line[len("panic: ") :].strip()
        elif line.startswith("FreeBSD ") and "uname" not in found:
            found["uname"] = line.strip()
    return found


def kgdb_backtrace(text: str) -> Backtrace:
    """The frames of kgdb's ``bt``: ``#N  [0xpc in ]function (args) [at file:line | from lib]``.

    A long frame that a terminal wrapped continues on indented lines; ``<signal handler
    called>`` is kgdb's name for a trap frame, recorded on the frame above it.
    """
    bt = Backtrace(source="kgdb bt")
    entries: list[str] = []
    for raw in text.splitlines():
        line = _KGDB_PROMPT.sub("", raw.rstrip())
        if re.match(r"^#\d+\s", line):
            entries.append(line)
        elif entries and raw[:1].isspace() and line.strip():
            entries[-1] += " " + line.strip()
        elif entries:
            break
    trap: str | None = None
    for entry in entries[: ddb.MAX_FRAMES]:
        m = _KGDB_FRAME.match(entry)
        if not m:
            bt.frames.append(KernelFrame(function=None))
            continue
        if m.group("func") == "<signal handler called>":
            trap = "trap frame (<signal handler called>)"
            continue
        func = m.group("func")
        frame = KernelFrame(
            function=None if func == "??" else func,
            pc=int(m.group("pc"), 16) if m.group("pc") else None,
            file=m.group("file"),
            line=int(m.group("line")) if m.group("line") else None,
            module=m.group("lib"),
            after_trap=trap,
        )
        frame.inline = frame.pc is None and int(m.group("n")) > 0
        trap = None
        bt.frames.append(frame)
    return bt
