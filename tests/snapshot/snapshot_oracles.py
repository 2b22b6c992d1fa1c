"""gdb as the oracle for snapshot tests: backtraces of every thread and the crashing frame's
locals and arguments, parsed from ``gdb -batch`` on the same core and executable."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

_VAR = re.compile(r"^(\w+) = (.*)$")


def _gdb(exe: Path, core: Path, *commands: str) -> str:
    args = ["gdb", "-batch", "-nx", "-ex", "set pagination off", "-ex", "set width 0"]
    for c in commands:
        args += ["-ex", c]
    done = subprocess.run([*args, str(exe), str(core)], capture_output=True, text=True, timeout=240)
    return done.stdout


# gdb's own backtrace machinery (what ``thread apply all bt`` prints), through its Python API
# so that each frame also says its kind: gdb synthesizes tail-call frames from DWARF call-site
# information (DW_TAG_call_site, DW_AT_call_tail_call), which drgn 0.3.0 does not do; a signal
# trampoline is a SIGTRAMP_FRAME, which ``bt`` prints as ``<signal handler called>``.
_GDB_PY = """
import gdb
KINDS = {gdb.TAILCALL_FRAME: "tailcall", gdb.INLINE_FRAME: "inline", gdb.SIGTRAMP_FRAME: "sigtramp"}
for inf in gdb.inferiors():
    for th in sorted(inf.threads(), key=lambda t: t.num):
        th.switch()
        print("THREAD", th.ptid[1])
        f = gdb.newest_frame()
        while f is not None:
            kind = KINDS.get(f.type(), "frame")
            name = "<signal handler called>" if kind == "sigtramp" else f.name() or "??"
            print("FRAME", kind, hex(f.pc()), name)
            try:
                f = f.older()
            except gdb.error:  # "Backtrace stopped": what bt prints last, then stops
                f = None
"""


@dataclass
class GdbFrame:
    function: str  # normalized (see normalize)
    tailcall: bool
    kind: str = "frame"  # frame, inline, tailcall, sigtramp
    pc: int = 0
    name: str = ""  # as gdb printed it


def gdb_backtraces(exe: Path, core: Path, tmp: Path) -> dict[int, list[GdbFrame]]:
    """Every thread's frames as gdb's backtrace has them, per LWP, innermost first."""
    script = tmp / "bt.py"
    script.write_text(_GDB_PY)
    threads: dict[int, list[GdbFrame]] = {}
    current: list[GdbFrame] = []
    for line in _gdb(exe, core, f"source {script}").splitlines():
        if line.startswith("THREAD "):
            current = threads.setdefault(int(line.split()[1]), [])
        elif line.startswith("FRAME "):
            _, kind, pc, name = line.split(" ", 3)
            current.append(GdbFrame(normalize(name), kind == "tailcall", kind, int(pc, 16), name))
    return threads


def without_params(name: str) -> str:
    """gdb's frame name without the parameter list it sometimes keeps: gdb drops it with its
    C++ name parser (``cp_remove_params``), which gives up on some names and leaves them whole
    (``std::function<int ()>::operator()() const``); snapshots never carry parameters."""
    text = name
    for suffix in (" const", " volatile", " &&", " &"):
        text = text.removesuffix(suffix)
    if not text.endswith(")"):
        return name
    depth = 0
    for i in range(len(text) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(text[i], 0)
        if depth == 0:
            return name if text[:i].endswith("operator") or i == 0 else text[:i]
    return name


def normalize(name: str) -> str:
    """One spelling per glibc alias: gdb may print a hidden alias (``__GI___clock_nanosleep``,
    ``clone3``) where DWARF or the dynamic symbol says ``__clock_nanosleep`` / ``__clone3``."""
    return last_component(name.removeprefix("__GI_")).lstrip("_")


def gdb_frame_vars(exe: Path, core: Path, frame: int, which: str) -> dict[str, str]:
    """``info args`` or ``info locals`` (``which``) of ``frame`` on the crashed thread."""
    out = _gdb(exe, core, f"frame {frame}", "echo ==\\n", f"info {which}")
    found: dict[str, str] = {}
    for line in out.partition("==\n")[2].splitlines():
        m = _VAR.match(line)
        if m and m[1] not in found:
            found[m[1]] = m[2]
    return found


def last_component(name: str) -> str:
    """``ns::C::f`` → ``f`` (top-level ``::`` only: template arguments keep theirs)."""
    depth = 0
    for i in range(len(name) - 1, 0, -1):
        depth += {">": 1, ")": 1, "<": -1, "(": -1}.get(name[i], 0)
        if depth == 0 and name[i - 1 : i + 1] == "::":
            return name[i + 1 :]
    return name


def check_gdb_value(gdb_text: str, var: dict) -> str | None:
    """None when the snapshot variable agrees with gdb's printed value, else the difference.

    Checked kinds: optimized out, integers, pointers (address, and the string for char *),
    char arrays (the text up to the NUL). Other values (structs, floats) return None.
    """
    if gdb_text == "<optimized out>":
        return None if var.get("optimized_out") else f"gdb: optimized out, snapshot: {var}"
    if var.get("optimized_out"):
        return f"snapshot says optimized out, gdb says {gdb_text}"
    m = re.match(r"^(-?\d+)$", gdb_text)
    if m:
        return None if var["value"] == int(m[1]) else f"int {gdb_text} vs {var['value']}"
    m = re.match(r'^(?:\([^)]*\) )?(0x[0-9a-f]+)(?: "(.*)")?', gdb_text)
    if m and isinstance(var["value"], int):
        if var["value"] != int(m[1], 16):
            return f"pointer {m[1]} vs {var['value']:#x}"
        if m[2] is not None and var.get("string") != m[2]:
            return f"string {m[2]!r} vs {var.get('string')!r}"
        return None
    m = re.match(r'^"((?:[^"\\]|\\.)*)"', gdb_text)
    if m and isinstance(var["value"], str):
        # gdb prints the whole array ("ab", '\000' <repeats 5 times>, or octal escapes); the
        # snapshot keeps the C string: compare up to the first NUL.
        text = re.sub(r"\\([0-7]{3})", lambda e: chr(int(e[1], 8)), m[1]).split("\0")[0]
        return None if var["value"] == text else f"chars {text!r} vs {var['value']!r}"
    if re.match(r"^[A-Z_][A-Z0-9_]*$", gdb_text):  # an enumerator
        return None if var.get("display") == gdb_text else f"enum {gdb_text} vs {var}"
    return None
