"""Reading the dumped process's memory: from the core, from mapped files, and refusing what
is in neither (with the range and the reason)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from coresnap.corefile import Core, open_core
from coresnap.errors import MemoryUnavailable
from tests.corefile.corefile_oracles import nm_address
from tests.crashes import Crash


def _exe_bias(core: Core) -> int:
    exe = next(m for m in core.modules if m.is_executable)
    assert exe.load_bias is not None
    return exe.load_bias


def test_globals_are_read_at_their_runtime_addresses(null_crash: Crash) -> None:
    marker, scratch = (int(x, 16) for x in re.findall(r"0x[0-9a-f]+", null_crash.stdout))
    with open_core(null_crash.core) as core:
        bias = _exe_bias(core)
        # The program printed the run-time addresses; nm gives link-time ones: the bias joins them.
        assert bias + nm_address(null_crash.exe, "core_marker") == marker
        assert bias + nm_address(null_crash.exe, "core_scratch") == scratch
        text = b"coresnap core marker: read me from the core"
        assert core.memory.read(marker, len(text)) == text
        assert core.memory.read_cstring(marker) == text
        # Changed at run time: only the core's copy says so.
        assert core.memory.read_cstring(scratch, 64) == b"changed at run time"
        assert core.memory.source(scratch) == "core"
        assert core.memory.read_u64(scratch) == int.from_bytes(b"changed ", "little")
        assert core.memory.read_u32(scratch) == int.from_bytes(b"chan", "little")


def test_code_pages_come_from_the_mapped_file(null_crash: Crash) -> None:
    with open_core(null_crash.core) as core:
        main = _exe_bias(core) + nm_address(null_crash.exe, "main")
        seg = core.memory.find_segment(main)
        assert seg is not None and seg.p_filesz == 0  # the kernel did not dump the text
        assert core.memory.source(main) == "file"
        mapping = core.memory.find_mapping(main)
        assert mapping is not None and mapping.path == str(null_crash.exe)
        file_bytes = null_crash.exe.read_bytes()
        at = mapping.file_offset + (main - mapping.start)
        assert core.memory.read(main, 32) == file_bytes[at : at + 32]
        with pytest.raises(MemoryUnavailable) as e:
            core.memory.read(main, 32, files=False)
        assert e.value.address == main and "not dumped" in e.value.why
        # A read that spans dumped and file-only pages is stitched together.
        first = core.mappings[0]
        span = core.memory.read(first.end - 16, 32)
        assert span[:16] == file_bytes[first.file_offset + 0x1000 - 16 : 0x1000]
        assert span[16:] == file_bytes[0x1000 : 0x1000 + 16]


def test_sysroot_and_path_map_choose_the_files(null_crash: Crash, tmp_path: Path) -> None:
    with open_core(null_crash.core, sysroot=str(tmp_path)) as core:
        main = _exe_bias(core) + nm_address(null_crash.exe, "main")
        with pytest.raises(MemoryUnavailable) as e:
            core.memory.read(main, 16)
        assert str(tmp_path) in e.value.why and "not readable" in e.value.why
        exe = next(m for m in core.modules if m.is_executable)
        assert exe.build_id_source == "core"  # the header page is in the core itself
    copy = tmp_path / "copy"
    shutil.copy(null_crash.exe, copy)
    with open_core(null_crash.core, path_map={str(null_crash.exe): str(copy)}) as core:
        mapping = core.memory.find_mapping(main)
        assert mapping is not None
        at = mapping.file_offset + (main - mapping.start)
        assert core.memory.read(main, 16) == copy.read_bytes()[at : at + 16]
        assert core.memory.source(main) == "file"


def test_unmapped_addresses_are_refused_with_the_range(null_crash: Crash) -> None:
    with open_core(null_crash.core) as core:
        assert not core.memory.is_mapped(0x10)
        with pytest.raises(MemoryUnavailable) as e:
            core.memory.read(0x10, 8)
        assert (e.value.address, e.value.size) == (0x10, 8)
        assert "not mapped" in e.value.why
        assert core.memory.source(0x10) is None
        # The first missing byte is named even when the read starts in mapped memory.
        last = max(core.mappings, key=lambda m: m.end if m.end < 1 << 47 else 0)
        with pytest.raises(MemoryUnavailable) as e:
            core.memory.read(last.end - 4, 8)
        assert e.value.address == last.end
        with pytest.raises(MemoryUnavailable):
            core.memory.read(0, 1 << 40)  # refused before anything is allocated
