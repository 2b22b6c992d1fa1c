"""`coresnap fingerprint --explain` and `coresnap reclassify DIR --diff` on stored snapshots."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from coresnap.analysis import analyze
from coresnap.cli.coresnap import main
from coresnap.snapshot import load, validate, write
from tests.analysis.analysis_support import Factory

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


def test_reclassify_finds_a_spool_s_snapshots(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A dump root keeps snapshots as committed/<id> and sending/<id> (no suffix); kept cores
    (committed/<id>.core) and failure reasons are not snapshots."""
    root = tmp_path / "root"
    for stage in ("committed", "sending", "failed"):
        (root / stage).mkdir(parents=True)
    ids = ["a" * 32, "b" * 32, "c" * 32]
    (store / "0-simple.snap").rename(root / "committed" / ids[0])
    (root / "committed" / f"{ids[0]}.core").write_bytes(b"\x7fELF core")
    (store / "1-cls_assert.snap").rename(root / "sending" / ids[1])
    (store / "3-cls_bad_jump.snap").rename(root / "failed" / f"{ids[2]}.snap")
    (root / "failed" / f"{ids[2]}.reason").write_text("put: exit status 1")
    assert main(["reclassify", str(root)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "3 snapshots, 0 changed, 0 unreadable"
    assert any(line.startswith(f"  {root / 'committed' / ids[0]}: ") for line in lines)


@pytest.mark.parametrize(
    ("source", "site"),
    [("cls_uncaught_exception.cc", "parse_port"), ("cls_assert.c", None)],
)
def test_crash_site_annotation_is_the_blamed_frame(
    analyzed: Factory, source: str, site: str | None
) -> None:
    """Past libstdc++'s throw path and libc's abort path: the frame the fingerprint blames."""
    snapshot = analyzed(source).snapshot
    blamed = snapshot["fingerprint"]["blame"]
    first = snapshot["annotations"][0]
    assert first["kind"] == "frame"
    assert first["text"].startswith(f"crash site: {site or blamed['function']}")
    assert blamed["function"].endswith(site or blamed["function"])
    assert blamed["role"] == "own"
