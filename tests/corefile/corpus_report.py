"""Where the corpus conformance results of this run are collected (one file per xdist worker)."""

from __future__ import annotations

import os
from pathlib import Path

REPORT_DIR = Path(__file__).parent / ".corpus-report"
RUN_ENV = "CORESNAP_TEST_RUN"  # set by tests/conftest.py


def corpus_report_file(worker: str) -> Path:
    """Where test_corpus.py appends this worker's results."""
    REPORT_DIR.mkdir(exist_ok=True)
    return REPORT_DIR / f"{os.environ.get(RUN_ENV, 'run')}.{worker}.jsonl"
