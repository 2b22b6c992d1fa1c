"""The snapshot accessors: one meaning of "the crashed thread" for every reader."""

from __future__ import annotations

from typing import Any

from coresnap.analysis import document


def doc(*threads: dict[str, Any], crashed_thread: int | None = None, **more: Any) -> dict[str, Any]:
    return {"crashed_thread": crashed_thread, "threads": list(threads), **more}


def test_the_thread_marked_crashed_wins_over_the_tid() -> None:
    a = {"tid": 7, "crashed": False, "frames": []}
    b = {"tid": 8, "crashed": True, "frames": [{"index": 0}, "junk"]}
    d = doc(a, b, crashed_thread=7)
    assert document.crashed_thread(d) is b
    assert document.crashed_index(d) == 1
    assert document.crashed_frames(d) == [{"index": 0}]
    assert document.is_crashed(d, b) and not document.is_crashed(d, a)


def test_without_a_mark_the_tid_names_it_and_a_tid_of_0_is_a_tid() -> None:
    a = {"tid": 0, "frames": [{"index": 0}]}
    assert document.crashed_thread(doc({"tid": 1}, a, crashed_thread=0)) is a
    assert document.crashed_thread(doc(a, crashed_thread=None)) is None


def test_foreign_documents_read_as_absent() -> None:
    for odd in ({}, {"threads": "x"}, {"threads": [1, None]}, {"fingerprint": []}):
        assert document.crashed_thread(odd) is None
        assert document.crashed_frames(odd) == []
        assert document.blamed_frame(odd) is None
        assert document.labels(odd) == []
        assert document.signal(odd) == {}


def test_blame_labels_signal() -> None:
    d = {
        "fingerprint": {"blame": {"function": "f", "index": 2}},
        "classification": {"labels": ["null-deref", 3, "memory.read"]},
        "signal": {"number": 11},
    }
    assert document.blamed_frame(d) == {"function": "f", "index": 2}
    assert document.labels(d) == ["null-deref", "memory.read"]
    assert document.signal(d) == {"number": 11}
