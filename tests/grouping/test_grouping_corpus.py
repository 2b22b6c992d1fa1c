"""The labelled grouping corpus, run for real: crashes, snapshots, a coronerd, and the figures
held against thresholds.toml (a ratchet: docs/grouping-corpus.md).

The test runs a deterministic subset, every bug's first and last case in truth.toml (the last is
most often the stripped or optimised build), so that a cold snapshot cache (any change to
coresnap's code) costs about a minute of CPU on two CPUs; the bench runs the whole corpus.
Builds, cores and snapshots are shared with the bench through the cache.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests.grouping import corpus, truth
from tests.grouping.measure import Measured, measure, report

THRESHOLDS = Path(__file__).parent / "thresholds.toml"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "grouping-corpus.md"


def subset(loaded: truth.Corpus) -> list[truth.Case]:
    """Every bug's first and last case, in file order."""
    ends = {end.id for cases in loaded.bugs().values() for end in (cases[0], cases[-1])}
    return [case for case in loaded.cases if case.id in ends]


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> Measured:
    loaded = truth.load()
    crashed = corpus.run(subset(loaded), loaded)
    languages = {name: p.language for name, p in loaded.programs.items()}
    return measure(crashed, tmp_path_factory.mktemp("coronerd"), languages)


def test_the_truth_file_holds_the_corpus_the_docs_promise() -> None:
    loaded = truth.load()
    bugs = loaded.bugs()
    assert len(loaded.cases) >= 140 and len(bugs) >= 45
    assert {p.language for p in loaded.programs.values()} >= {"c", "c++", "go", "rust"}
    assert all(2 <= len(cases) <= 5 for cases in bugs.values())
    chosen = subset(loaded)
    assert all(sum(c.bug == b for c in chosen) == 2 for b in bugs)


def test_the_docs_show_the_bug_table_of_the_truth_file() -> None:
    assert truth.bug_table(truth.load()) in DOCS.read_text(), "python -m tests.grouping.truth"


@pytest.mark.timeout(900)
def test_corpus_figures_hold_the_thresholds(measured: Measured) -> None:
    limits = tomllib.loads(THRESHOLDS.read_text())
    text = report(measured)
    made, store = measured.groupings["made"], measured.groupings["coronerd"]
    assert made.precision >= limits["fingerprint"]["precision"], text
    assert made.recall >= limits["fingerprint"]["recall"], text
    assert store.precision >= limits["store"]["precision"], text
    assert store.recall >= limits["store"]["recall"], text
    assert measured.classes.ratio >= limits["class"]["accuracy"], text
    assert measured.blame is not None and measured.blame_store is not None, text
    assert measured.blame.ratio >= limits["blame"]["accuracy"], text
    assert measured.blame_store.ratio >= limits["blame"]["with_debug_files"], text
