"""Malformed cores: every one gives a CoreFormatError naming the offset and the problem (or,
for a truncated core, a readable core that says it is truncated), never another exception."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

from coresnap.corefile import open_core
from coresnap.corefile.summary import summarize
from coresnap.errors import CoreFileUnreadable, CoreFormatError, MemoryUnavailable
from tests.corefile.synthcore import EM_386, EM_PPC, EM_PPC64, Load, SynthCore, prstatus, siginfo
from tests.crashes import Crash


def _write(tmp_path: Path, data: bytes, name: str = "core") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _format_error(tmp_path: Path, data: bytes) -> CoreFormatError:
    with pytest.raises(CoreFormatError) as e:
        open_core(_write(tmp_path, data))
    assert e.value.path is not None and e.value.offset >= 0
    return e.value


def _ok_core(**kw: object) -> SynthCore:
    return SynthCore(
        notes=[("CORE", 1, prstatus()), ("CORE", 0x53494749, siginfo())],
        loads=[Load(0x10000, b"A" * 64, memsz=0x1000)],
        **kw,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    "data, offset, words",
    [
        (b"", 0, "not an ELF"),
        (b"\0" * 4096, 0, "not an ELF"),
        (b"this is not a core at all\n" * 10, 0, "not an ELF"),
        (b"\x7fELF\x03\x01" + bytes(58), 4, "EI_CLASS"),
        (b"\x7fELF\x02\x07" + bytes(58), 5, "EI_DATA"),
        (b"\x7fELF\x02\x01\x01" + bytes(20), 16, "ELF header"),
    ],
    ids=["empty", "zeros", "text", "bad-class", "bad-data", "short-header"],
)
def test_not_a_core(tmp_path: Path, data: bytes, offset: int, words: str) -> None:
    e = _format_error(tmp_path, data)
    assert e.offset == offset and words in e.what


def test_executable_is_not_a_core(tmp_path: Path, null_crash: Crash) -> None:
    e = _format_error(tmp_path, null_crash.exe.read_bytes())
    assert e.offset == 0x10 and "ET_CORE" in e.what
    e = _format_error(tmp_path, _ok_core(e_type=2).build())
    assert "e_type is 2" in e.what


def test_huge_e_phnum_is_refused_before_reading(tmp_path: Path) -> None:
    e = _format_error(tmp_path, _ok_core(e_phnum=0xFFFE).build())
    assert e.offset == 64 and "65534 program headers" in e.what


def test_pn_xnum_needs_its_section_header(tmp_path: Path) -> None:
    with open_core(_write(tmp_path, _ok_core(pn_xnum=True).build())) as core:
        assert core.elf.header["e_phnum"] == 0xFFFF and core.elf.phnum == 2
        assert core.threads[0].tid == 1234
    e = _format_error(tmp_path, _ok_core(pn_xnum=True, section_header=False).build())
    assert "PN_XNUM" in e.what and "e_shoff 0" in e.what
    data = bytearray(_ok_core(pn_xnum=True).build())
    struct.pack_into("<Q", data, 0x28, len(data) + 100)  # e_shoff past the end
    e = _format_error(tmp_path, bytes(data))
    assert e.offset == len(data) + 100 and "section header 0" in e.what


def test_note_sizes_past_the_segment(tmp_path: Path) -> None:
    good = _ok_core().build()
    note_at = 64 + 56 * 2
    for field, value, word in ((4, 1 << 30, "n_descsz"), (0, 1 << 30, "n_namesz")):
        data = bytearray(good)
        struct.pack_into("<I", data, note_at + field, value)
        e = _format_error(tmp_path, bytes(data))
        assert e.offset == note_at and word in e.what


def test_short_known_notes_name_their_offset(tmp_path: Path) -> None:
    short = SynthCore(notes=[("CORE", 1, prstatus()[:40])])
    e = _format_error(tmp_path, short.build())
    assert "pr_pid" in e.what
    note_desc = 64 + 56 + 12 + 8
    assert e.offset == note_desc + 32  # pr_pid is at byte 32 of a 64-bit elf_prstatus
    nt_file = struct.pack("<QQ", 1 << 40, 4096)
    e = _format_error(tmp_path, SynthCore(notes=[("CORE", 0x46494C45, nt_file)]).build())
    assert "NT_FILE: count 1099511627776" in e.what


def test_unknown_notes_stay_raw(tmp_path: Path) -> None:
    core = _ok_core()
    core.notes += [("VENDOR", 77, b"\x01\x02\x03"), ("", 0, b""), ("CORE", 0x9999, b"xyz")]
    core.notes += [("", 5, b"garbage"), ("CORE", 1, prstatus(pid=99))]
    with open_core(_write(tmp_path, core.build())) as c:
        # The zero-filled header is padding; the nameless note with content starts garbage,
        # so the PRSTATUS after it is not believed.
        assert [(n.name, n.type, n.desc) for n in c.notes[2:]] == [
            ("VENDOR", 77, b"\x01\x02\x03"),
            ("CORE", 0x9999, b"xyz"),
        ]
        assert c.threads[0].raw_notes == {"NT_0x9999": 3}
        assert [t.tid for t in c.threads] == [1234]
        assert any("zero-filled" in w for w in c.warnings)
        assert any("garbage" in w for w in c.warnings)


def test_eight_byte_aligned_notes(tmp_path: Path) -> None:
    core = _ok_core(note_align=8)
    core.notes.insert(0, ("GNU", 5, b"\x01\x00\x00\xc0\x04\x00\x00\x00\x03\x00\x00\x00\0\0\0\0"))
    with open_core(_write(tmp_path, core.build())) as c:
        assert [n.name for n in c.notes] == ["GNU", "CORE", "CORE"]
        assert c.threads[0].tid == 1234 and c.signal is not None and c.signal.addr == 0xDEAD


@pytest.mark.parametrize(
    "elfclass, order, machine, regs, width, pc, arch",
    [
        (64, ">", EM_PPC64, 48, 8, "nip", "ppc64"),
        (32, ">", EM_PPC, 48, 4, "nip", "ppc"),
        (32, "<", EM_386, 17, 4, "eip", "i386"),
    ],
)
def test_other_classes_and_byte_orders(
    tmp_path: Path, elfclass: int, order: str, machine: int, regs: int, width: int, pc: str,
    arch: str,
) -> None:  # fmt: skip
    status = prstatus(order, pid=77, regs=regs, reg_width=width, elfclass=elfclass)
    core = SynthCore(elfclass=elfclass, order=order, machine=machine, notes=[("CORE", 1, status)])
    core.loads = [Load(0x4000, b"\x11\x22\x33\x44" * 4)]
    with open_core(_write(tmp_path, core.build())) as c:
        assert (c.ident.arch, c.ident.elfclass, c.ident.byteorder) == (arch, elfclass, order)
        t = c.threads[0]
        assert t.tid == 77 and t.signal == 11 and t.pc == t.registers[pc]
        assert list(t.registers.values())[:3] == [0x1000, 0x1001, 0x1002]
        expect = 0x11223344 if order == ">" else 0x44332211
        assert c.memory.read_u32(0x4000) == expect


def test_overlapping_segments_do_not_confuse_reads(tmp_path: Path) -> None:
    core = _ok_core()
    core.loads = [Load(0x10000, b"A" * 0x100), Load(0x10080, b"B" * 0x100)]
    with open_core(_write(tmp_path, core.build())) as c:
        assert c.memory.read(0x10000, 4) == b"AAAA"
        assert c.memory.read(0x10100, 4) == b"BBBB"
        assert set(c.memory.read(0x10000, 0x180)) <= {ord("A"), ord("B")}


def test_truncated_real_core_at_every_interesting_offset(tmp_path: Path, null_crash: Crash) -> None:
    raw = null_crash.core.read_bytes()
    with open_core(null_crash.core) as whole:
        notes = whole.elf.phdrs[0]
        note_end = notes["p_offset"] + notes["p_filesz"]
        offsets = {0, 1, 15, 16, 63, 64, 64 + 56 * 3 + 7, note_end - 1}
        offsets |= {n.offset + k for n in whole.notes for k in (0, 5, 13)}
        loads = [(s.p_offset, s.p_filesz) for s in whole.segments if s.p_filesz]
    for offset in sorted(offsets):
        with pytest.raises(CoreFormatError) as e:
            open_core(_write(tmp_path, raw[:offset]))
        assert e.value.offset <= max(offset, 64 + 56 * 25)
    for seg_offset, filesz in loads[:3] + loads[-2:]:
        cut = seg_offset + filesz // 2
        with open_core(_write(tmp_path, raw[:cut])) as core:
            (first, *rest) = core.truncated
            assert first.p_offset <= cut < first.p_offset + first.p_filesz
            assert first.available == cut - first.p_offset
            assert all(s.available == 0 for s in rest)
            doc = summarize(core)
            assert doc["core"]["truncated"][0]["available"] == first.available
            lost = first.p_vaddr + first.available
            if first.p_flags & 2:  # writable: the file on disk cannot stand in
                with pytest.raises(MemoryUnavailable, match="truncated"):
                    core.memory.read(lost, 8)


def test_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(CoreFileUnreadable, match="not a regular file"):
        open_core(tmp_path)
    with pytest.raises(CoreFileUnreadable, match="No such file"):
        open_core(tmp_path / "missing")


def _inspect(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "coresnap.cli.coresnap", "inspect", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_inspect_exits_1_with_the_message(tmp_path: Path) -> None:
    header = SynthCore(e_phnum=1000).build()[:64]  # 1000 program headers in a 64-byte file
    garbage = _write(tmp_path, header)
    for target, words in (
        (garbage, "program headers"),
        (_write(tmp_path, b"hello", "text"), "not an ELF file"),
        (tmp_path / "missing", "No such file"),
        (tmp_path, "not a regular file"),
    ):
        proc = _inspect(str(target))
        assert proc.returncode == 1, proc
        assert words in proc.stderr and proc.stderr.startswith("coresnap inspect: ")
        assert "Traceback" not in proc.stderr and proc.stdout == ""
