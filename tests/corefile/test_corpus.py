"""Conformance with the peer corpus (../shared/corpus): every fact another project's tests
assert about a core, where the fact is about what the reader decodes, must hold here too.

Results go to tests/corefile/.corpus-report/ (one file per worker and run); the session's
terminal summary prints the per-OS/arch table and writes it to report.txt (conftest.py).
"""

from __future__ import annotations

import bz2
import gzip
import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from coresnap.corefile import open_core
from coresnap.errors import CoresnapError
from tests.corefile.corpus_facts import CHECKERS, NOT_FOR_THE_READER, OBSERVED, Ctx
from tests.corefile.corpus_report import corpus_report_file

CORPUS = Path(__file__).parents[2].parent / "shared" / "corpus"

if not (CORPUS / "manifest.json").is_file():
    pytest.skip(
        f"!!! corpus conformance NOT RUN: {CORPUS} is absent (outside CI) !!!",
        allow_module_level=True,
    )

MANIFEST: list[dict[str, Any]] = json.loads((CORPUS / "manifest.json").read_text())
CORES = [e for e in MANIFEST if e["role"] == "core"]
BY_FILE = {e["file"]: e for e in MANIFEST}

# Facts that do not hold, and why (each one checked: the reader is right, or the fact is a
# different tool's model).
EXPLAINED: dict[tuple[str, str], tuple[str, str]] = {
    ("lldb/thread_crash-linux-x86_64.core", "other_threads_signal"): (
        "others: got {4}, expected {0}",
        "the kernel writes pr_cursig = the dump signal in every thread's NT_PRSTATUS "
        "(fill_prstatus(..., signr)); LLDB shows a stop signal only for the thread with the "
        "NT_SIGINFO. The reader keeps pr_cursig as written; the crashed thread is right.",
    ),
    ("lldb/thread_crash-linux-i386.core", "other_threads_signal"): (
        "others: got {4}, expected {0}",
        "as for the x86_64 core: pr_cursig is the same in every thread by design",
    ),
    ("lldb/linux-mipsel-gnuabio32.core", "observed:notes.nt_file_count"): (
        "NT_FILE count: got 1, expected 0",
        "this NT_FILE is written with 64-bit longs for an o32 process (64-bit kernel); "
        "eu-readelf reads it with 32-bit words and prints one garbage entry; the reader "
        "finds the one real mapping (0x400000-0x401000)",
    ),
    ("lldb/linux-mips64el-gnuabin32.core", "observed:notes.nt_file_count"): (
        "NT_FILE count: got 1, expected 0",
        "as for the o32 core: 64-bit NT_FILE words in an ELFCLASS32 core",
    ),
    ("rizin/core-linux-arm64", "registers_crashed_thread"): (
        "pstate=0x60001000, expected 0x0000000000000000",
        "eu-readelf -n reads pstate 0x60001000 from this NT_PRSTATUS as we do; rizin shows 0",
    ),
}


def _unpack(entry: dict[str, Any], root: Path) -> Path:
    src = CORPUS / entry["file"]
    name = src.name.removesuffix(".bz2").removesuffix(".gz")
    out = root / entry["file"].replace("/", "__").removesuffix(".bz2").removesuffix(".gz")
    if out.exists():
        return out
    opener = {"bz2": bz2.open, "gz": gzip.open}.get(entry["compression"])
    tmp = out.with_name(out.name + ".part")
    with opener(src, "rb") if opener else open(src, "rb") as f, open(tmp, "wb") as g:
        shutil.copyfileobj(f, g, 1 << 20)
    tmp.rename(out)
    assert name
    return out


@pytest.fixture(scope="session")
def unpack_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corpus")


def _record(entry: dict[str, Any], rows: list[dict[str, Any]], worker: str) -> None:
    with open(corpus_report_file(worker), "a") as f:
        for row in rows:
            f.write(json.dumps({"os": entry["os"], "arch": entry["arch"], **row}) + "\n")


@pytest.mark.parametrize("entry", CORES, ids=[e["file"] for e in CORES])
def test_corpus_core(entry: dict[str, Any], unpack_root: Path, worker_id: str) -> None:
    core_path = _unpack(entry, unpack_root)
    companions = [entry["executable"], *entry.get("shared_objects", [])]
    local = {Path(c).name: _unpack(BY_FILE[c], unpack_root) for c in companions if c}
    exe = local.get(Path(entry["executable"]).name) if entry["executable"] else None
    rows: list[dict[str, Any]] = []
    started = time.monotonic()
    # sysroot: an empty directory, so this machine's /lib never stands in for theirs.
    with open_core(core_path, sysroot=str(unpack_root / "empty-sysroot")) as core:
        core.memory.path_map.update(
            {m.path: str(local[Path(m.path).name]) for m in core.mappings
             if m.path and Path(m.path).name in local}
        )  # fmt: skip
        assert core.ident.elfclass in (32, 64)
        ctx = Ctx(core_path, Path(exe) if exe else None)
        for fact, spec in entry["expect"].items():
            if fact in NOT_FOR_THE_READER:
                rows.append({"fact": fact, "status": "n/a", "why": NOT_FOR_THE_READER[fact]})
                continue
            checker = CHECKERS.get(fact)
            if checker is None:
                rows.append({"fact": fact, "status": "unchecked"})
                continue
            try:
                problem = checker(core, spec["value"], ctx)
            except (CoresnapError, AssertionError, StopIteration, KeyError) as e:
                problem = f"{type(e).__name__}: {e}"
            status = "match" if problem is None else "mismatch"
            known = EXPLAINED.get((entry["file"], fact))
            if problem and known and known[0] in ("*", problem):
                status = "explained"
            rows.append({"fact": fact, "status": status, "problem": problem})
        for fact, spec in entry.get("observed", {}).items():
            checker = OBSERVED.get(fact)
            if checker is None:  # gdb backtraces: the unwinder's business
                continue
            try:
                problem = checker(core, spec["value"], ctx)
            except (CoresnapError, AssertionError, StopIteration, KeyError) as e:
                problem = f"{type(e).__name__}: {e}"
            status = "observed-match" if problem is None else "observed-mismatch"
            known = EXPLAINED.get((entry["file"], f"observed:{fact}"))
            if problem and known and known[0] == problem:
                status = "explained"
            rows.append({"fact": f"observed:{fact}", "status": status, "problem": problem})
        core.modules  # noqa: B018 - every core's modules are found without an error
    rows.append({"fact": entry["file"], "status": "timing", "seconds": time.monotonic() - started})
    _record(entry, rows, worker_id)
    bad = [r for r in rows if r["status"] in ("mismatch", "unchecked", "observed-mismatch")]
    assert not bad, json.dumps(bad, indent=1)
