"""The grouping corpus's scoring, on small hand-made inputs whose figures are worked out here."""

from __future__ import annotations

from typing import Any

import pytest

from tests.grouping.score import (
    accuracy,
    baseline_frames,
    baseline_hash,
    baseline_name,
    blame_matches,
    confusion,
    pairwise,
    render_confusion,
)

BUGS = {"a": "X", "b": "X", "c": "X", "d": "Y", "e": "Y"}  # 3 + 1 same-bug pairs


def test_a_perfect_grouping_scores_one() -> None:
    p = pairwise(BUGS, {"a": "1", "b": "1", "c": "1", "d": "2", "e": "2"})
    assert (p.precision, p.recall, p.f1, p.groups, p.bugs) == (1.0, 1.0, 1.0, 2, 2)
    assert p.split == {} and p.merged == {}


def test_pairs_counted_from_the_contingency_table() -> None:
    # groups {a,b} {c,d} {e}: same-group pairs (a,b) (c,d), of which (a,b) is one bug.
    p = pairwise(BUGS, {"a": "1", "b": "1", "c": "2", "d": "2", "e": "3"})
    assert p.precision == pytest.approx(1 / 2)
    assert p.recall == pytest.approx(1 / 4)
    assert p.f1 == pytest.approx(2 * (1 / 2) * (1 / 4) / (1 / 2 + 1 / 4))
    assert p.split == {"X": {"1": ["a", "b"], "2": ["c"]}, "Y": {"2": ["d"], "3": ["e"]}}
    assert p.merged == {"2": {"X": ["c"], "Y": ["d"]}}


def test_one_group_for_everything_has_full_recall_and_low_precision() -> None:
    p = pairwise(BUGS, dict.fromkeys(BUGS, "g"))
    assert p.recall == 1.0
    assert p.precision == pytest.approx(4 / 10)
    assert p.merged == {"g": {"X": ["a", "b", "c"], "Y": ["d", "e"]}}


def test_every_case_alone_claims_nothing_and_finds_nothing() -> None:
    p = pairwise(BUGS, {c: c for c in BUGS})
    assert (p.precision, p.recall, p.f1, p.groups) == (1.0, 0.0, 0.0, 5)


def test_a_case_without_a_group_is_an_error() -> None:
    with pytest.raises(KeyError):
        pairwise(BUGS, {"a": "1"})


def test_accuracy_and_confusion() -> None:
    expected = {"a": "null-deref", "b": "null-deref", "c": "abort", "d": "panic"}
    found = {"a": "null-deref", "b": "invalid-pointer", "c": "abort", "d": None}
    acc = accuracy(expected, found)
    assert (acc.correct, acc.total, acc.ratio) == (2, 4, 0.5)
    assert acc.misses == [("b", "null-deref", "invalid-pointer"), ("d", "panic", None)]
    table = confusion(expected, found)
    assert table == {
        ("null-deref", "null-deref"): 1,
        ("null-deref", "invalid-pointer"): 1,
        ("abort", "abort"): 1,
        ("panic", "(none)"): 1,
    }
    assert render_confusion(table, indent="").splitlines() == [
        "  abort       1/1  -> abort 1",
        "* null-deref  1/2  -> null-deref 1, invalid-pointer 1",
        "* panic       0/1  -> (none) 1",
    ]


@pytest.mark.parametrize(
    ("name", "normal"),
    [
        ("shop::Catalog::total() const", "shop::Catalog::total"),
        ("std::map<int, long>::at(int const&)", "std::map<int, long>::at"),
        ("parse_header [clone .cold]", "parse_header"),
        ("job_advance.cold", "job_advance"),
        ("copy_field.isra.0.part.1", "copy_field"),
        ("kvstore::parse::field::h0123456789abcdef", "kvstore::parse::field"),
        ("main.(*Cache).evict", "main.(*Cache).evict"),
        ("f()::{lambda(int)#1}::operator()(int) const", "f()::{lambda(int)#1}::operator()"),
        ("cache_get", "cache_get"),
    ],
)
def test_baseline_names(name: str, normal: str) -> None:
    assert baseline_name(name) == normal


FRAMES: list[dict[str, Any]] = [
    {"function": "__pthread_kill_implementation", "module": "/lib/x86_64-linux-gnu/libc.so.6"},
    {"function": "raise", "module": "/lib/x86_64-linux-gnu/libc.so.6"},
    {"function": None, "module": "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"},
    {"function": "__cxa_throw", "module": "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"},
    {"function": "<signal handler called>", "module": None},
    {"function": "shop::parse_price(std::string const&)", "module": "/srv/shop"},
    {"function": None, "module": None},
    {"function": "command.isra.0", "module": "/srv/shop"},
    {"function": "main", "module": "/srv/shop"},
    {"function": "__libc_start_main", "module": "/lib/x86_64-linux-gnu/libc.so.6"},
]


def test_baseline_keeps_the_top_three_program_frames() -> None:
    assert baseline_frames(FRAMES) == ["shop::parse_price", "command", "main"]
    assert baseline_hash(FRAMES) == baseline_hash(FRAMES[2:])
    assert baseline_hash(FRAMES) != baseline_hash(FRAMES[6:])


def test_baseline_names_an_unnamed_frame_by_module_and_offset() -> None:
    stripped: list[dict[str, Any]] = [
        {"function": "raise", "module": "/lib/x86_64-linux-gnu/libc.so.6", "module_offset": 9},
        {"function": None, "module": "/srv/kvd", "module_offset": 0x1620},
        {"function": None, "module": None, "module_offset": None},
        {"function": "main", "module": "/srv/kvd", "module_offset": 0x1100},
    ]
    assert baseline_frames(stripped) == ["kvd+0x1620", "main"]


def test_blame_matches_a_module_qualified_or_normalised_name() -> None:
    def normalize(name: str) -> str:
        return name.split("(")[0]

    assert blame_matches("cache_evict", "kvd!cache_evict", normalize)
    assert blame_matches("shop::Cart::add", "shop::Cart::add(std::string const&, int)", normalize)
    assert blame_matches("main.(*Cache).evict", "main.(*Cache).evict", normalize)
    assert not blame_matches("cache_evict", "cache_put", normalize)
    assert not blame_matches("cache_evict", None, normalize)
