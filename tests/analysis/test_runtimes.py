"""Go and Rust programs killed by their own runtimes: labels from the runtime's frames, and the
text the runtime printed, read back from the core. The oracle is the program's stderr."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from coresnap.analysis import analyze
from coresnap.analysis.runtimes import runtime_name
from coresnap.corefile import open_core
from coresnap.snapshot.build import build_snapshot
from tests.analysis.analysis_support import Analyzed
from tests.analysis.runtime_builds import (
    GO_DEBUG,
    RUST_O0,
    RUST_O2,
    build_go,
    build_rust,
    runtime_env,
)
from tests.crashes import crash

Run = Callable[..., Analyzed]


@pytest.fixture(scope="session")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """``run(exe_builder, mode, env)``: crash once, snapshot, analyze with the core; cached."""
    cache: dict[tuple[str, str, tuple[tuple[str, str], ...]], Analyzed] = {}

    def get(exe: Path, mode: str, **env: str) -> Analyzed:
        key = (str(exe), mode, tuple(sorted(env.items())))
        if key not in cache:
            cwd = tmp_path_factory.mktemp(f"{exe.name[:20]}-{mode}")
            local = cwd / exe.name.rsplit("-", 1)[0]
            shutil.copy2(exe, local)
            result = crash(local, [mode], cwd=cwd, env=runtime_env(**env), expect_signal=6)
            snapshot = build_snapshot(result.core, str(result.exe))
            with open_core(result.core) as core:
                cache[key] = Analyzed(result, analyze(snapshot, core))
        return cache[key]

    return get


def _go(run: Run, mode: str, flags: Sequence[str]) -> Analyzed:
    return run(build_go("cls_go_panic.go", flags), mode, GOTRACEBACK="crash")


def _printed(a: Analyzed, prefix: str) -> str:
    """The line the Go runtime printed that starts with ``prefix``."""
    return next(line for line in a.crash.stderr.splitlines() if line.startswith(prefix))


GO_PANICS = [
    ("nil", "null-deref", "runtime.panicmem", "runtime.errorString"),
    ("index", "out-of-bounds", "runtime.goPanicIndex", "runtime.boundsError"),
    ("slice", "out-of-bounds", "runtime.goPanicSliceAcap", "runtime.boundsError"),
    ("div", "div-by-zero", "runtime.panicdivide", "runtime.errorString"),
    ("panic", "panic", "runtime.gopanic", "string"),
    ("error", "panic", "runtime.gopanic", "*errors.errorString"),
    ("custom", "panic", "runtime.gopanic", "main.quotaError"),
    ("nilmap", "panic", "runtime.gopanic", "runtime.plainError"),
    ("closed", "panic", "runtime.gopanic", "runtime.plainError"),
    ("wild-panic", "invalid-pointer", "runtime.panicmemAddr", "runtime.errorAddressString"),
]


@pytest.mark.parametrize("flags", [(), GO_DEBUG], ids=["go", "go-N-l"])
@pytest.mark.parametrize(("mode", "label", "frame", "value_type"), GO_PANICS)
def test_go_panic(
    run: Run, flags: Sequence[str], mode: str, label: str, frame: str, value_type: str
) -> None:
    a = _go(run, mode, flags)
    assert a.labels == [label]  # no longer a plain abort
    facts = a.facts(label)
    assert facts["runtime"] == "go" and facts["runtime_frame"] == frame
    assert facts["message"] == _printed(a, "panic: ")  # the runtime's own words, from memory
    assert facts["value_type"] == value_type and facts["goroutine"] == 1


@pytest.mark.parametrize("flags", [(), GO_DEBUG], ids=["go", "go-N-l"])
@pytest.mark.parametrize("mode", ["nil", "wild-panic", "wild"])
def test_go_fault_from_the_goroutine(run: Run, flags: Sequence[str], mode: str) -> None:
    """g.sig, g.sigcode0/1 and g.sigpc: the signal sigpanic saw, as the runtime printed it."""
    a = _go(run, mode, flags)
    fault = a.facts(a.labels[0])["fault"]
    assert fault["signal"] == "SIGSEGV" and fault["code"] == "SEGV_MAPERR"
    if mode == "wild":  # "unexpected fault address 0xdead0002" then "fatal error: fault"
        assert (
            _printed(a, "unexpected fault address")
            == f"unexpected fault address {fault['address']}"
        )
        return
    signal = re.search(r"code=0x1 addr=(0x[0-9a-f]+) pc=(0x[0-9a-f]+)", a.crash.stderr)
    assert signal is not None and (fault["address"], fault["pc"]) == signal.groups()
    assert fault["function"] in ("main.balanceOf", "main.main")  # inlined into main at -O


@pytest.mark.parametrize("flags", [(), GO_DEBUG], ids=["go", "go-N-l"])
@pytest.mark.parametrize(
    ("mode", "label", "frame"),
    [
        ("unlock", "abort", "runtime.fatal"),
        ("deadlock", "abort", "runtime.fatal"),
        ("wild", "invalid-pointer", "runtime.sigpanic"),
        ("recurse", "stack-overflow", "runtime.newstack"),
    ],
)
def test_go_fatal_error(run: Run, flags: Sequence[str], mode: str, label: str, frame: str) -> None:
    a = _go(run, mode, flags)
    assert a.labels == [label]
    facts = a.facts(label)
    assert facts["runtime"] == "go" and facts["runtime_frame"] == frame
    assert facts["message"] == _printed(a, "fatal error: ")  # throw's constant argument


def _rust(run: Run, mode: str, flags: Sequence[str], **env: str) -> Analyzed:
    return run(build_rust("cls_rust_panic.rs", flags), mode, **env)


def _rust_printed(a: Analyzed) -> tuple[str, str]:
    """(location, message) as std printed them: ``thread 'main' (…) panicked at FILE:L:C:`` then
    the message (Rust 1.73+), or ``thread 'main' panicked at 'MESSAGE', FILE:L:C`` (before)."""
    lines = a.crash.stderr.splitlines()
    at = next(i for i, line in enumerate(lines) if " panicked at " in line)
    tail = lines[at].split(" panicked at ", 1)[1]
    old = re.fullmatch(r"'(.*)', (\S+)", tail)
    return (old[2], old[1]) if old else (tail.rstrip(":"), lines[at + 1])


# (mode, label, the deciding frame: with Rust 1.79+ first, else as Debian's rustc 1.63 has it)
RUST_PANICS = [
    ("index", "out-of-bounds", ("core::panicking::panic_bounds_check",)),
    (
        "slice",
        "out-of-bounds",
        ("core::slice::index::slice_index_fail", "core::slice::index::slice_end_index_len_fail_rt"),
    ),
    (
        "div",
        "div-by-zero",
        ("core::panicking::panic_const::panic_const_div_by_zero", "core::panicking::panic_fmt"),
    ),
    ("none", "panic", ("core::option::unwrap_failed", "core::panicking::panic_fmt")),
    ("expect", "panic", ("core::option::expect_failed",)),
    ("err", "panic", ("core::result::unwrap_failed",)),
    ("panic", "panic", ("core::panicking::panic_fmt",)),
    ("static", "panic", ("std::panicking::begin_panic",)),
]


@pytest.mark.parametrize("flags", [RUST_O0, RUST_O2], ids=["O0", "O2"])
@pytest.mark.parametrize(("mode", "label", "frames"), RUST_PANICS)
def test_rust_panic(
    run: Run, flags: Sequence[str], mode: str, label: str, frames: tuple[str, ...]
) -> None:
    a = _rust(run, mode, flags)
    assert a.labels == [label]
    facts = a.facts(label)
    assert facts["runtime"] == "rust" and facts["runtime_frame"] in frames
    assert (facts["location"], facts["message"]) == _rust_printed(a)
    if facts["runtime_frame"] == "core::panicking::panic_fmt" and label == "div-by-zero":
        assert facts["decided_by"] == "message"  # older compilers: only the message says it


def test_rust_panic_with_backtrace_printing(run: Run) -> None:
    """RUST_BACKTRACE=1 runs the backtrace printer before abort: the record is still found."""
    a = _rust(run, "index", RUST_O2, RUST_BACKTRACE="1")
    assert "stack backtrace:" in a.crash.stderr
    assert a.labels == ["out-of-bounds"]
    facts = a.facts("out-of-bounds")
    assert (facts["location"], facts["message"]) == _rust_printed(a)


def test_rust_edition_2021_static_panic(run: Run) -> None:
    """Edition 2021 sends panic!("literal") through panic_fmt with a StaticStrPayload."""
    a = _rust(run, "static", (*RUST_O2, "--edition", "2021"))
    facts = a.facts("panic")
    assert facts["payload"] == "static" and facts["runtime_frame"] == "core::panicking::panic_fmt"
    assert (facts["location"], facts["message"]) == _rust_printed(a)


@pytest.mark.parametrize("language", ["go", "rust"])
def test_reclassify_without_the_core_keeps_the_verdict(run: Run, language: str) -> None:
    a = _go(run, "index", ()) if language == "go" else _rust(run, "index", RUST_O0)
    again = analyze(copy.deepcopy(a.snapshot), None)
    assert again["classification"] == a.snapshot["classification"]


def test_runtime_names_match_binutils_demangler() -> None:
    """Raw v0 symbols of a real Rust binary read the same as c++filt's demangling of them."""
    exe = build_rust("cls_rust_panic.rs", RUST_O0)
    nm = subprocess.run(["nm", "--defined-only", str(exe)], capture_output=True, text=True)
    raw = [line.split()[-1] for line in nm.stdout.splitlines() if " _R" in line]
    demangled = subprocess.run(
        ["c++filt"], input="\n".join(raw), capture_output=True, text=True
    ).stdout.splitlines()
    compared = [(r, d) for r, d in zip(raw, demangled, strict=True) if runtime_name(r) != r]
    assert len(compared) > 100  # the paths the reader handles (trait impls stay raw)
    assert [(r, runtime_name(r)) for r, d in compared if runtime_name(r) != runtime_name(d)] == []
    assert runtime_name(next(r for r in raw if r.endswith("18panic_bounds_check"))) == (
        "core::panicking::panic_bounds_check"
    )


def test_reclassify_diff_relabels_snapshots_of_older_rules(
    run: Run, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A snapshot made before these rules (labelled abort, no runtime observations) is relabelled
    from its frames alone; the text that needed memory is a note, not a guess."""
    from coresnap.cli.coresnap import main
    from coresnap.snapshot import load, write

    old = copy.deepcopy(_go(run, "index", ()).snapshot)
    old["classification"] = {"labels": ["abort"], "evidence": [], "notes": [], "confidence": 0.8}
    write(old, tmp_path / "go-index.snap")
    assert main(["reclassify", str(tmp_path), "--diff"]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith(f"* {tmp_path / 'go-index.snap'}: labels abort -> out-of-bounds")
    again = analyze(load(tmp_path / "go-index.snap"), None)["classification"]
    assert again["evidence"][0]["facts"]["runtime_frame"] == "runtime.goPanicIndex"
    assert again["evidence"][0]["facts"]["message"] is None
    assert "go-runtime: the panic's text was not readable from memory" in again["notes"]
