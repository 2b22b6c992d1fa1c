"""Hostile cores: a real core cut or with bytes flipped in its headers and notes. The snapshot
step must answer with a snapshot (perhaps reduced, saying why) or a CoresnapError naming the
problem — never another exception, never a hang. Runs isolated, as the daemon does, so that
drgn meets the damage in a child with limits."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest

from coresnap.errors import CoresnapError
from coresnap.snapshot import validate
from coresnap.snapshot.isolate import Limits, run_snapshot
from tests.snapshot.snapshot_support import Crashed

LIMITS = Limits(cpu_seconds=20, memory_mb=2048, wall_seconds=30)


def _phdrs(data: bytes) -> list[tuple[int, int, int]]:
    """(p_type, p_offset, p_filesz) of each program header of an ELF64 little-endian core."""
    (e_phoff,) = struct.unpack_from("<Q", data, 0x20)
    e_phentsize, e_phnum = struct.unpack_from("<HH", data, 0x36)
    out = []
    for i in range(e_phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from(
            "<IIQQQQ", data, e_phoff + i * e_phentsize
        )
        out.append((p_type, p_offset, p_filesz))
    return out


def _mutants(data: bytes) -> dict[str, bytes]:
    rng = random.Random(1234)  # the same damage on every run
    note = next((off, size) for kind, off, size in _phdrs(data) if kind == 4)  # PT_NOTE
    cut_at = {"in ELF header": 40, "in program headers": 100, "in notes": note[0] + note[1] // 2}
    mutants = {f"cut {where}": data[:offset] for where, offset in cut_at.items()}
    for n in range(4):
        damaged = bytearray(data)
        for _ in range(16):
            damaged[note[0] + rng.randrange(note[1])] = rng.randrange(256)
        mutants[f"notes flipped #{n}"] = bytes(damaged)
    damaged = bytearray(data)
    struct.pack_into("<H", damaged, 0x38, 0xFFFF)  # e_phnum = PN_XNUM without a section header
    mutants["PN_XNUM without section 0"] = bytes(damaged)
    return mutants


def test_mutated_cores_never_escape(crashed: dict[str, Crashed], tmp_path: Path) -> None:
    c = crashed["c_O0"].crash
    outcomes = {}
    for name, data in _mutants(c.core.read_bytes()).items():
        core = tmp_path / (name.replace(" ", "_").replace("#", "") + ".core")
        core.write_bytes(data)
        try:
            snap = run_snapshot(str(core), str(c.exe), LIMITS)
        except CoresnapError as e:
            outcomes[name] = f"error: {e}"
            assert str(e), name
            continue
        validate(snap)
        outcomes[name] = f"snapshot ({snap['analysis']['engine']})"
    # A cut inside the ELF or program headers leaves nothing to read: those must be errors.
    assert outcomes["cut in ELF header"].startswith("error")
    assert outcomes["cut in program headers"].startswith("error")
    assert len(outcomes) == 8, outcomes


@pytest.mark.parametrize("size", [64, 4096])
def test_random_bytes_with_an_elf_magic(tmp_path: Path, size: int) -> None:
    rng = random.Random(size)
    core = tmp_path / "noise.core"
    core.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(rng.randrange(256) for _ in range(size)))
    with pytest.raises(CoresnapError):
        run_snapshot(str(core), None, LIMITS)
