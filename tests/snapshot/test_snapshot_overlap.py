"""drgn reads debug info on a thread while the snapshot's imports run: both always finish,
and an exception on either side reaches the caller (which falls back to the corefile engine)."""

from __future__ import annotations

import threading
import time

import pytest

from coresnap.snapshot.engines.drgn_engine import _overlapped


def test_work_runs_on_another_thread_and_both_finish() -> None:
    seen: dict[str, int] = {}
    _overlapped(
        lambda: seen.setdefault("work", threading.get_ident()),
        lambda: seen.setdefault("meanwhile", threading.get_ident()),
    )
    assert seen["meanwhile"] == threading.get_ident()
    assert seen["work"] != threading.get_ident()


def test_an_error_in_the_work_is_raised_here_after_meanwhile_finished() -> None:
    done: list[str] = []

    def work() -> None:
        raise ValueError("bad DWARF")

    with pytest.raises(ValueError, match="bad DWARF"):
        _overlapped(work, lambda: done.append("meanwhile"))
    assert done == ["meanwhile"]


def test_an_error_meanwhile_waits_for_the_work_first() -> None:
    finished = threading.Event()

    def work() -> None:
        time.sleep(0.2)  # still running when meanwhile fails: the program is not left in use
        finished.set()

    def meanwhile() -> None:
        raise ImportError("no capstone")

    with pytest.raises(ImportError, match="no capstone"):
        _overlapped(work, meanwhile)
    assert finished.is_set()
