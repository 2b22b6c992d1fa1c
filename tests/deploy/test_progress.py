"""Progress of long commands (issue 14): a rich bar on a terminal, a line a second otherwise
(coronerd regroup, retention), nothing off a terminal where lines would be noise
(coresnap reclassify)."""

from __future__ import annotations

import pytest

from coresnap.cli.progress import progress


def test_plain_lines_first_and_last(capsys: pytest.CaptureFixture[str]) -> None:
    with progress("retention", terminal=False) as step:
        for done in range(1, 501):
            step("projects", done, 500)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "retention: projects 1/500" and lines[-1] == "retention: projects 500/500"
    assert len(lines) <= 4  # one a second at most between them


def test_a_bar_on_a_terminal_and_silence_off_it(capsys: pytest.CaptureFixture[str]) -> None:
    with progress("reclassify", terminal=True) as step:
        step("snapshots", 1, 2)
        step("snapshots", 2, 2)
    assert "retention:" not in capsys.readouterr().err
    with progress("reclassify", terminal=False, lines=False) as step:
        step("snapshots", 1, 1)
    assert capsys.readouterr().err == ""
