"""Bad input: a clear message or a reduced snapshot that says what it lacks; never a
traceback, never a hang. Each case runs the real CLI as a user would."""

from __future__ import annotations

import shutil
from pathlib import Path

from coresnap.snapshot import load
from coresnap.snapshot.build import build_snapshot
from coresnap.snapshot.isolate import Limits, run_snapshot
from tests.crashes import Crash
from tests.snapshot.snapshot_support import Crashed, coresnap


def _fails_cleanly(core: Path, tmp: Path, what: str) -> None:
    done = coresnap("snapshot", str(core), "-o", str(tmp / "x.snap"), timeout=60)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("coresnap snapshot: ") and what in done.stderr, done.stderr
    assert not (tmp / "x.snap").exists()


def test_zero_byte_core(tmp_path: Path) -> None:
    core = tmp_path / "core.0"
    core.write_bytes(b"")
    _fails_cleanly(core, tmp_path, "core.0")


def test_not_elf(tmp_path: Path) -> None:
    core = tmp_path / "core.txt"
    core.write_text("this is not a core file\n" * 10)
    _fails_cleanly(core, tmp_path, "not an ELF file")


def test_missing_core(tmp_path: Path) -> None:
    _fails_cleanly(tmp_path / "nope", tmp_path, "nope")


def test_truncated_core_gives_a_reduced_snapshot(
    crashed: dict[str, Crashed], tmp_path: Path
) -> None:
    c = crashed["c_O0"].crash
    data = c.core.read_bytes()
    core = tmp_path / "core.cut"
    core.write_bytes(data[: len(data) // 2])
    out = tmp_path / "cut.snap"
    done = coresnap("snapshot", str(core), str(c.exe), "-o", str(out))
    assert done.returncode == 0, done.stderr
    snap = load(out)
    assert snap["analysis"]["core_truncated"] is True
    assert snap["signal"]["name"] == "SIGSEGV" and snap["threads"]


def test_wrong_executable_is_flagged_not_used(crashed: dict[str, Crashed], tmp_path: Path) -> None:
    c = crashed["c_O0"].crash
    wrong = crashed["cxx_O0"].crash.exe
    out = tmp_path / "wrong.snap"
    done = coresnap("snapshot", str(c.core), str(wrong), "-o", str(out))
    assert done.returncode == 0, done.stderr
    snap = load(out)
    main = next(m for m in snap["modules"] if m["path"] == snap["process"]["exe"])
    assert main["build_id_mismatch"] is True and main["file_build_id"] != main["build_id"]
    assert any("differs from the core" in w for w in snap["analysis"]["warnings"])
    names = [f["function"] for f in snap["threads"][0]["frames"]]
    assert "explode" not in str(names)  # nothing was read from the wrong binary


def test_library_deleted_after_the_crash(tmp_path: Path) -> None:
    from tests.crashes import crash
    from tests.snapshot.snapshot_support import lib_program

    exe = lib_program(tmp_path / "build")
    result = crash(exe, cwd=tmp_path / "run")
    for lib in (tmp_path / "build").glob("libsnaplib.so-*"):
        lib.unlink()
    out = tmp_path / "lib.snap"
    done = coresnap("snapshot", str(result.core), str(result.exe), "-o", str(out))
    assert done.returncode == 0, done.stderr
    snap = load(out)
    lib = next(m for m in snap["modules"] if "libsnaplib" in m["path"])
    assert lib["debug_info"] is None and lib["build_id"]
    thread = snap["threads"][0]
    top = thread["frames"][0]
    assert top["module"] == lib["path"] and top["module_offset"] is not None
    assert any("libsnaplib" in w and "not found" in w for w in snap["analysis"]["warnings"])
    # Without the file there is no CFI to unwind out of it (gdb loses the stack there): the
    # callers are found by scanning the stack, and marked as guesses.
    names = [f["function"] for f in thread["frames"]]
    assert names[1:3] == ["compute", "main"], names
    assert not any(f["trusted"] for f in thread["frames"][1:])
    assert "scanning the stack" in thread["frames_cut"]


def test_isolated_child_over_its_limits_still_yields_a_snapshot(
    crashed: dict[str, Crashed],
) -> None:
    c = crashed["c_O0"].crash
    tiny = Limits(cpu_seconds=1, memory_mb=4096, wall_seconds=0.05)
    snap = run_snapshot(str(c.core), str(c.exe), tiny)
    assert snap["analysis"]["engine"] == "corefile"
    assert "wall-clock limit" in snap["analysis"]["fallback_reason"]
    assert snap["threads"][0]["frames"], "the fallback engine still unwinds"
    cramped = Limits(cpu_seconds=60, memory_mb=64, wall_seconds=60)
    snap = run_snapshot(str(c.core), str(c.exe), cramped)
    assert snap["analysis"]["fallback_reason"], snap["analysis"]


def test_isolated_child_within_limits_uses_drgn(crashed: dict[str, Crashed]) -> None:
    c = crashed["c_O0"].crash
    snap = run_snapshot(str(c.core), str(c.exe), Limits(cpu_seconds=60, wall_seconds=120))
    assert snap["analysis"]["engine"] == "drgn" and snap["analysis"]["fallback_reason"] is None
    assert snap == snap | {"threads": snap["threads"]}
    assert snap["threads"][0]["frames"][0]["variables"]


def test_corefile_engine_on_request(crashed: dict[str, Crashed]) -> None:
    c = crashed["c_O0"].crash
    snap = build_snapshot(c.core, str(c.exe), engine="corefile")
    assert snap["analysis"]["engine"] == "corefile"
    names = [f["function"] for f in snap["threads"][0]["frames"]]
    assert names[:4] == ["crash_here", "inlined_step", "middle", "main"]


def test_view_needs_only_the_snapshot(fresh_crash: Crash, tmp_path: Path) -> None:
    out = tmp_path / "only.snap"
    done = coresnap("snapshot", str(fresh_crash.core), str(fresh_crash.exe), "-o", str(out))
    assert done.returncode == 0, done.stderr
    shutil.rmtree(fresh_crash.core.parent)
    done = coresnap("view", str(out), "--width", "160")
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "SIGSEGV (SEGV_MAPERR) at 0x0" in text
    assert "classification: null-deref" in text  # coresnap snapshot runs the analysis
    assert "crash_here" in text and "inlined_step [inlined]" in text
    assert '"about to crash"' in text and "GREEN (5)" in text
    assert "*target = local_int" in text  # the source line travelled inside the snapshot
    assert text.index("─ crashing frame") < text.index("─ threads") < text.index("modules")
    full = coresnap("view", str(out), "--full", "--thread", "0", "--width", "160")
    assert full.returncode == 0 and "rip=" in full.stdout


def test_view_folds_identical_stacks(crashed: dict[str, Crashed], tmp_path: Path) -> None:
    from coresnap.snapshot import write

    out = tmp_path / "t.snap"
    write(crashed["threads64"].snapshot, out)
    done = coresnap("view", str(out), "--width", "200")
    assert done.returncode == 0, done.stderr
    assert "32 threads: worker → park_sleeping → … → " in done.stdout, done.stdout
    assert "32 threads: worker → park_waiting → … → " in done.stdout


def test_view_of_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.snap"
    bad.write_bytes(b"nonsense")
    done = coresnap("view", str(bad))
    assert done.returncode == 1 and "not JSON" in done.stderr and "Traceback" not in done.stderr
