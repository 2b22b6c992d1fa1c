"""Scrub.text's memory of texts it let through: a repeated string is not read again, until a
value removed since may be in it."""

from __future__ import annotations

from coresnap import config
from coresnap.capture.policy import load_policy
from coresnap.capture.scrub import MARK, Scrub


def _scrub() -> Scrub:
    return Scrub(load_policy(config.parse_text("", "test.conf")))


def test_a_clean_text_is_remembered_until_a_value_is_removed() -> None:
    scrub = _scrub()
    text = "connecting with hunter2-secret-value now"
    assert not scrub.untouched(text)
    assert scrub.text(text, "a") == text
    assert scrub.untouched(text)
    # A secret found elsewhere: every later string holding it loses it, remembered or not.
    scrub.note("b", "environ", "name:password", "hunter2-secret-value")
    assert not scrub.untouched(text)
    assert scrub.text(text, "c") == f"connecting with {MARK} now"
    assert {"where": "c", "scrubber": "environ", "rule": "known:b"} in scrub.records
    assert not scrub.untouched(text)


def test_a_text_that_lost_something_is_read_each_time() -> None:
    scrub = _scrub()
    text = "password=hunter2-secret-value"
    first = scrub.text(text, "x")
    assert first != text and MARK in first
    assert not scrub.untouched(text)
    assert scrub.text(text, "y") == first
    assert {r["where"] for r in scrub.records} >= {"x", "y"}
