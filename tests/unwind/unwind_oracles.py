"""Outside oracles for the unwinder tests: readelf's CFI tables, addr2line, gdb backtraces."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ReadelfFde:
    start: int
    end: int
    columns: list[str]
    rows: list[tuple[int, str, dict[str, str]]] = field(default_factory=list)


_FDE = re.compile(r"^[0-9a-f]+ [0-9a-f]+ [0-9a-f]+ FDE cie=[0-9a-f]+ pc=([0-9a-f]+)\.\.([0-9a-f]+)")


def readelf_frames(path: Path, section: str = "frames-interp") -> list[ReadelfFde]:
    """``readelf --debug-dump=frames-interp``: each FDE with its decoded rows."""
    # readelf exits 1 on a stripped file (no .debug_* sections) after printing .eh_frame.
    out = subprocess.run(
        ["readelf", "-W", f"--debug-dump={section}", str(path)],
        capture_output=True,
        text=True,
    ).stdout
    assert "FDE" in out, f"readelf printed no FDE for {path}"
    fdes: list[ReadelfFde] = []
    current: ReadelfFde | None = None
    for line in out.splitlines():
        m = _FDE.match(line)
        if " CIE " in line or "ZERO terminator" in line:
            current = None
        elif m:
            current = ReadelfFde(int(m[1], 16), int(m[2], 16), [])
            fdes.append(current)
        elif current is not None and line.strip().startswith("LOC"):
            current.columns = line.split()[2:]
        elif current is not None and current.columns and re.match(r"^[0-9a-f]{8,16} ", line):
            # A register rule prints as "r9 (r9)": keep the name only.
            loc, cfa, *cells = re.sub(r"r\d+ \((\w+)\)", r"\1", line).split()
            current.rows.append((int(loc, 16), cfa, dict(zip(current.columns, cells, strict=True))))
    return fdes


def addr2line(exe: Path, address: int) -> list[tuple[str, str, int | None]]:
    """``addr2line -i -f``: (function, file basename, line) for the address, innermost first."""
    out = subprocess.run(
        ["addr2line", "-i", "-f", "-e", str(exe), hex(address)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    result = []
    for name, where in zip(out[0::2], out[1::2], strict=True):
        file, _, line = where.rpartition(":")
        line_no = line.split()[0] if line else ""
        result.append((name, Path(file).name, int(line_no) if line_no.isdigit() else None))
    return result


@dataclass
class GdbFrame:
    number: int
    pc: int | None  # printed for frames whose pc is not at the start of a line
    function: str
    signal_trampoline: bool = False


_GDB_FRAME = re.compile(r"^#(\d+)\s+(?:(0x[0-9a-f]+) in )?(<signal handler called>|.*)")
_ANON = "(anonymous namespace)"


def _gdb_function(rest: str) -> str:
    """The function name of a frame line's remainder: ``name (args) at file:line``."""
    if rest.startswith("<signal handler called>"):
        return "<signal handler called>"
    return rest.replace(_ANON, "\0").split(" (")[0].replace("\0", _ANON)


_GDB_THREAD = re.compile(r"^Thread \d+ \(.*?LWP (\d+)\)")


def gdb_backtraces(exe: Path, core: Path) -> dict[int, list[GdbFrame]]:
    """``gdb -batch -ex 'thread apply all bt'``: frames per LWP id."""
    out = subprocess.run(
        [
            "gdb",
            "-nx",
            "-batch",
            "-ex",
            "set width 0",
            "-ex",
            "thread apply all bt",
            str(exe),
            str(core),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    threads: dict[int, list[GdbFrame]] = {}
    frames: list[GdbFrame] | None = None
    for line in out.splitlines():
        t = _GDB_THREAD.match(line)
        if t:
            frames = threads.setdefault(int(t[1]), [])
            continue
        m = _GDB_FRAME.match(line)
        if m and frames is not None:
            name = _gdb_function(m[3])
            frames.append(
                GdbFrame(
                    int(m[1]),
                    int(m[2], 16) if m[2] else None,
                    name,
                    signal_trampoline=name == "<signal handler called>",
                )
            )
    return threads
