"""The console's "Look here first" names the program's variables, not glibc's internals (issue 14): an assert's
``__assert_fail_base`` and a double free's ``_int_free`` hold pointers into freed chunks that
are none of the program's business; the program's own ``p`` still is."""

from __future__ import annotations

from typing import Any

import pytest

from coresnap.analysis.roles import Role, role
from tests.analysis.analysis_support import Factory


def _variable_notes(snap: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    [thread] = [t for t in snap["threads"] if t["crashed"]]
    frames = {f["index"]: f for f in thread["frames"]}
    return [(a["name"], frames[a["frame"]]) for a in snap["annotations"]
            if a["kind"] == "variable"]  # fmt: skip


@pytest.mark.parametrize("source", ["cls_assert.c", "cls_double_free.c"])
def test_only_the_programs_own_frames_are_flagged(analyzed: Factory, source: str) -> None:
    snap = analyzed(source).snapshot
    program = snap["process"]["exe"]
    for name, frame in _variable_notes(snap):
        assert role(frame, program).role is Role.OWN, (name, frame["function"], frame["module"])


def test_the_programs_freed_pointer_is_still_flagged(analyzed: Factory) -> None:
    notes = _variable_notes(analyzed("cls_double_free.c").snapshot)
    assert ("p", "release") in {(name, frame["function"]) for name, frame in notes}
