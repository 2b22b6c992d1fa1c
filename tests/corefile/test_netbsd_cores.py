"""NetBSD cores: the real amd64 and aarch64 cores of LLDB's TestNetBSDCore, and bad notes.

The corpus (../shared/corpus, README.md + manifest.json) carries what LLDB's own test asserts
for each core: pid, thread count, the selected (signalled) LWP, its signal, LWP 1's signal and
the first frames of the selected thread's backtrace (``bar``, ``foo``, ``main|lwp_main``). The
top frame is checked here through the executable's symbol table: the decoded pc must fall in
``bar``, which only holds if the register layout is right.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from hypothesis import given, settings
from hypothesis import strategies as st

from coresnap.corefile import netbsd, open_core
from coresnap.corefile.model import ElfIdent, Note
from coresnap.errors import CoreFormatError

# ../shared/corpus, next to the repository (the layout CI uses).
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"


def _netbsd_entries() -> list[dict[str, object]]:
    manifest = CORPUS / "manifest.json"
    if not manifest.is_file():
        return []
    entries = json.loads(manifest.read_text())
    return [e for e in entries if e["os"] == "netbsd" and e["role"] == "core"]


ENTRIES = _netbsd_entries()


def _function_at(exe: Path, pc: int) -> str | None:
    with open(exe, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        for sym in symtab.iter_symbols():
            start, size = sym["st_value"], sym["st_size"]
            if sym["st_info"]["type"] == "STT_FUNC" and start <= pc < start + size:
                return str(sym.name)
    return None


@pytest.mark.skipif(not ENTRIES, reason=f"LOUD: no corpus at {CORPUS}: NetBSD cores not checked")
@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: Path(str(e["file"])).name)
def test_corpus_core_matches_lldb_facts(entry: dict[str, object]) -> None:
    assert entry["compression"] == "none"  # all NetBSD corpus cores are stored raw
    expect = {k: v["value"] for k, v in entry["expect"].items()}  # type: ignore[attr-defined]
    with open_core(CORPUS / str(entry["file"])) as core:
        view = core.view
        assert view.os == "netbsd"
        if "pid" not in expect:  # netbsd-amd64.core: LLDB asserts only the arch
            assert expect["lldb_architecture"].startswith(core.ident.arch)
            assert view.threads and view.threads[0].pc is not None
            return
        assert view.process.pid == expect["pid"]
        assert len(view.threads) == expect["thread_count"]
        assert view.crashed_index is not None
        crashed = view.threads[view.crashed_index]
        assert crashed.tid == expect["selected_thread_lwpid"]
        assert crashed.signal == expect["selected_thread_signal"]
        assert view.signal is not None and view.signal.name == "SIGSEGV"
        if "lwp1_signal" in expect:
            lwp1 = next(t for t in view.threads if t.tid == 1)
            assert lwp1.signal == expect["lwp1_signal"]
        top = expect["backtrace_selected_thread_prefix"][0]
        assert crashed.pc is not None and crashed.sp is not None
        assert _function_at(CORPUS / str(entry["executable"]), crashed.pc) == top
        assert core.memory.is_mapped(crashed.sp)
        assert all(t.registers and t.fpregs for t in view.threads)
        assert any(a.name == "AT_SUN_EXECNAME" for a in view.auxv)
        # cpi_name is p_comm, the program's name cut to 16 bytes; the build host named the
        # aarch64 programs "*.evbarm64", the corpus "*.aarch64": compare the stems.
        assert view.process.fname is not None
        stem = Path(str(entry["file"])).name.removeprefix("netbsd-").split(".")[0]
        assert stem.startswith(view.process.fname.split(".")[0])


AMD64 = ElfIdent(64, "<", 62, "x86_64", 0)


def _procinfo(**over: int) -> bytes:
    f = dict(cpi_version=1, cpi_cpisize=160, cpi_signo=11, cpi_sigcode=1, cpi_pid=42,
             cpi_siglwp=3)  # fmt: skip
    f.update(over)
    head = struct.pack("<iiii", f["cpi_version"], f["cpi_cpisize"], f["cpi_signo"],
                       f["cpi_sigcode"])  # fmt: skip
    ids = struct.pack("<iiiiIIIIIIi", f["cpi_pid"], 1, 42, 42, 1000, 1000, 1000, 100, 100, 100, 2)
    return head + bytes(64) + ids + b"prog".ljust(32, b"\0") + struct.pack("<i", f["cpi_siglwp"])


def _regs(rip: int) -> bytes:
    values = [0] * 26
    values[21], values[24] = rip, rip + 0x1000  # r_rip, r_rsp in NetBSD's amd64 struct reg
    return struct.pack("<26Q", *values)


def _notes(info: bytes) -> list[Note]:
    return [
        Note("NetBSD-CORE", 1, info, 0, 100),
        Note("NetBSD-CORE@3", 33, _regs(0x4000), 0, 300),
        Note("NetBSD-CORE@3", 35, bytes(512), 0, 600),
        Note("NetBSD-CORE@1", 33, _regs(0x5000), 0, 1200),
        Note("NetBSD-CORE@1", 99, b"machine-dependent", 0, 1500),
    ]


def test_fold_signal_to_one_lwp_or_the_process() -> None:
    view = netbsd.fold(_notes(_procinfo()), AMD64)
    assert [(t.tid, t.signal, t.pc, t.sp) for t in view.threads] == [
        (3, 11, 0x4000, 0x5000), (1, 0, 0x5000, 0x6000)]  # fmt: skip
    assert view.crashed_index == 0 and view.signal is not None
    assert (view.signal.code_name, view.signal.source) == ("SEGV_MAPERR", "procinfo")
    assert view.threads[1].raw_notes == {"PT_FIRSTMACH+67": 17}
    assert (view.process.pid, view.process.uid, view.process.fname) == (42, 1000, "prog")

    view = netbsd.fold(_notes(_procinfo(cpi_siglwp=1)), AMD64)
    assert view.crashed_index == 1
    everyone = netbsd.fold(_notes(_procinfo(cpi_siglwp=0)), AMD64)
    assert everyone.crashed_index == 0 and [t.signal for t in everyone.threads] == [11, 11]
    quiet = netbsd.fold(_notes(_procinfo(cpi_signo=0, cpi_siglwp=0)), AMD64)
    assert quiet.crashed_index is None and quiet.signal is None


def test_bad_procinfo_and_registers_name_offsets() -> None:
    for info, offset in (
        (_procinfo(cpi_version=2), 100),
        (_procinfo(cpi_cpisize=4096), 104),
        (_procinfo(cpi_cpisize=100), 104),
        (_procinfo()[:90], 104),
    ):
        with pytest.raises(CoreFormatError) as err:
            netbsd.fold(_notes(info), AMD64)
        assert err.value.offset == offset
    short = [Note("NetBSD-CORE@2", 33, bytes(100), 0, 700)]
    with pytest.raises(CoreFormatError) as err:
        netbsd.fold(short, AMD64)
    assert err.value.offset == 700
    odd = [Note("NetBSD-CORE@x", 33, bytes(8), 0, 0), Note("NetBSD", 1, b"", 0, 0)]
    assert netbsd.fold(odd, AMD64).threads == []  # not per-LWP names: kept raw


LLDB_THREAD = re.compile(r"thread #\d+: tid = (\d+), (0x[0-9a-f]+), stop reason = signal (\w+)")


@pytest.mark.skipif(
    shutil.which("lldb") is None, reason="lldb not installed (tools/setup-system.sh)"
)
@pytest.mark.skipif(not ENTRIES, reason=f"LOUD: no corpus at {CORPUS}: NetBSD cores not checked")
@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: Path(str(e["file"])).name)
def test_lldb_sees_the_same_lwps_pcs_and_signals(entry: dict[str, object]) -> None:
    path = CORPUS / str(entry["file"])
    cmd = ["lldb", "--batch", "-x", "-c", str(path), "-o", "thread list"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    with open_core(path) as core:
        ours = [(t.tid, t.pc, t.signal) for t in core.view.threads]
        theirs = [(int(tid), int(pc, 16), 11 if sig == "SIGSEGV" else int(sig))
                  for tid, pc, sig in LLDB_THREAD.findall(out)]  # fmt: skip
        assert theirs == ours
        assert f"Process {core.view.process.pid} stopped" in out


def _corpus_notes() -> list[tuple[ElfIdent, list[Note]]]:
    from coresnap.corefile.elf import read_core
    from coresnap.corefile.reader import CoreReader

    out = []
    for entry in ENTRIES:
        with CoreReader(CORPUS / str(entry["file"])) as reader:
            elf = read_core(reader)
            out.append((elf.ident, elf.notes))
    return out


CORPUS_NOTES = _corpus_notes()


@pytest.mark.skipif(not ENTRIES, reason=f"LOUD: no corpus at {CORPUS}: NetBSD cores not fuzzed")
@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzz_mutated_corpus_notes(data: st.DataObject) -> None:
    ident, notes = data.draw(st.sampled_from(CORPUS_NOTES))
    index = data.draw(st.integers(0, len(notes) - 1))
    note = notes[index]
    desc = bytearray(note.desc[: data.draw(st.integers(0, len(note.desc)))])
    for pos, value in data.draw(st.lists(st.tuples(st.integers(0, 1 << 12), st.integers(0, 255)))):
        if desc:
            desc[pos % len(desc)] = value
    bad = Note(note.name, note.type, bytes(desc), note.offset, note.desc_offset)
    try:
        view = netbsd.fold([*notes[:index], bad, *notes[index + 1 :]], ident)
    except CoreFormatError as e:
        assert note.desc_offset <= e.offset <= note.desc_offset + len(note.desc)
        return
    assert len(view.decoded_notes) == len(notes)
