"""`coresnap fingerprint --explain` and `coresnap reclassify DIR --diff` on stored snapshots."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from analysis_support import Factory

from coresnap.analysis import analyze
from coresnap.cli.coresnap import main
from coresnap.snapshot import load, validate, write

STORED = [
    ("demo/programs/simple.c", ()),
    ("cls_assert.c", ()),
    ("cls_uncaught_exception.cc", ()),
    ("cls_bad_jump.c", ()),
    ("cls_null.c", ("write",)),
]


@pytest.fixture
def store(analyzed: Factory, tmp_path: Path) -> Path:
    for i, (source, args) in enumerate(STORED):
        snapshot = analyzed(source, *args).snapshot
        validate(snapshot)  # what analysis adds keeps the snapshot valid v1
        write(snapshot, tmp_path / f"{i}-{Path(source).stem}.snap")
    return tmp_path


@pytest.mark.parametrize(("source", "args"), STORED)
def test_reanalysis_without_core_keeps_the_verdict(
    analyzed: Factory, source: str, args: tuple[str, ...]
) -> None:
    snapshot = analyzed(source, *args).snapshot
    again = analyze(copy.deepcopy(snapshot), None)  # memory facts come from the observations
    assert again["classification"] == snapshot["classification"]
    assert again["fingerprint"] == snapshot["fingerprint"]


def test_reclassify_diff_unchanged(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reclassify", str(store), "--diff"]) == 0
    assert capsys.readouterr().out.splitlines() == ["5 snapshots, 0 changed, 0 unreadable"]


def test_reclassify_diff_shows_old_to_new(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = store / "0-simple.snap"
    old = load(path)
    current = old["fingerprint"]["hash"][:16]
    old["classification"]["labels"] = ["null-deref"]  # as an older rule set would have said
    old["fingerprint"]["hash"] = "0" * 64
    write(old, path)
    (store / "broken.snap").write_bytes(b"not a snapshot")
    assert main(["reclassify", str(store), "--diff"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        f"* {path}: labels null-deref -> use-after-free memory.write; "
        f"fingerprint {'0' * 16} -> {current}"
    )
    assert lines[1].startswith(f"! {store / 'broken.snap'}:")
    assert lines[-1] == "6 snapshots, 1 changed, 1 unreadable"


def test_fingerprint_explain(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = store / "2-cls_uncaught_exception.snap"
    assert main(["fingerprint", "--explain", str(path)]) == 0
    out = capsys.readouterr().out
    snapshot = load(path)
    assert out.startswith(f"{path}: fingerprint v2\n")
    for title in ("1. crashed thread's frames", "2. roles", "3. blamed frame", "6. sha256"):
        assert f"  {title}" in out
    assert f"    #0  {snapshot['fingerprint']['hash']}" in out
    assert "    #0  cls_uncaught_exception!parse_port" in out
    assert main(["fingerprint", str(path)]) == 0
    assert capsys.readouterr().out == f"{snapshot['fingerprint']['hash']}  {path}\n"


def test_docs_example_matches_the_steps(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "analysis.md").read_text()
    example = docs.split("crash.snap: fingerprint v2\n", 1)[1].split("```", 1)[0]
    titles = [line for line in example.splitlines() if line[:3].strip()[:1].isdigit()]
    main(["fingerprint", "--explain", str(store / "2-cls_uncaught_exception.snap")])
    out = capsys.readouterr().out
    assert titles and all(f"{title}\n" in out for title in titles)
    assert (
        "    #0  server!parse_port" in example
        and "    #0  cls_uncaught_exception!parse_port" in out
    )
