"""The warm worker's inflated debug files: the same sections as the compressed file, and the
same snapshot as drgn reading the build-id directory itself."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from coresnap.snapshot.build import build_snapshot
from coresnap.snapshot.engines import drgn_inflate
from tests.crashes import build, crash


def _sections(path: Path) -> dict[str, bytes]:
    with open(path, "rb") as f:
        elf = ELFFile(f)  # pyelftools inflates SHF_COMPRESSED sections itself
        return {s.name: s.data() for s in elf.iter_sections() if s["sh_type"] != "SHT_NOBITS"}


@pytest.mark.skipif(shutil.which("objcopy") is None, reason="needs binutils' objcopy")
def test_inflated_has_the_sections_of_the_compressed_file(tmp_path: Path) -> None:
    exe = build("snap_basic.c", flags=("-g", "-O2"))
    compressed = tmp_path / "compressed"
    subprocess.run(["objcopy", "--compress-debug-sections=zlib", str(exe), str(compressed)],
                   check=True)  # fmt: skip
    data = compressed.read_bytes()
    out = drgn_inflate.inflated(data)
    assert out is not None
    inflated = tmp_path / "inflated"
    inflated.write_bytes(out)
    assert _sections(inflated) == _sections(compressed)
    with open(inflated, "rb") as f:
        flags = [s["sh_flags"] for s in ELFFile(f).iter_sections()]
    assert not any(flag & drgn_inflate.SHF_COMPRESSED for flag in flags)
    assert drgn_inflate.inflated(exe.read_bytes()) is None  # nothing compressed: nothing to do
    assert drgn_inflate.inflated(b"not an ELF file") is None


@pytest.fixture
def inflated_libraries() -> Iterator[list[str]]:
    try:
        yield drgn_inflate.prepare()
    finally:
        for fd, _ in drgn_inflate._READY.values():
            os.close(fd)
        drgn_inflate._READY.clear()
        drgn_inflate._REPORTED.clear()


def _comparable(snap: dict) -> dict:
    snap["uuid"], snap["analysis"]["duration_ms"] = "", 0
    return snap


def test_snapshot_is_the_same_with_inflated_debug_files(
    tmp_path: Path, inflated_libraries: list[str]
) -> None:
    c = crash(build("snap_threads.c"), cwd=tmp_path)
    if not inflated_libraries:
        pytest.skip("no compressed separate debug file for this process's libraries")
    with_inflated = build_snapshot(c.core, str(c.exe), engine="drgn")
    debug_files = {m["debug_file"] for m in with_inflated["modules"]}
    assert debug_files & set(inflated_libraries), "no module used an inflated debug file"
    assert drgn_inflate._REPORTED, "drgn did not take the inflated file"
    for fd, _ in drgn_inflate._READY.values():
        os.close(fd)
    drgn_inflate._READY.clear()
    plain = build_snapshot(c.core, str(c.exe), engine="drgn")
    assert _comparable(with_inflated) == _comparable(plain)
