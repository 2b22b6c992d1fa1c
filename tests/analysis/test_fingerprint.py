"""Fingerprint v1: same bug -> same hash (ASLR, -O0/-O2, inputs, callers); other site -> other."""

from __future__ import annotations

import pytest
from analysis_support import Factory

from coresnap.analysis.fingerprint import explain, fingerprint, normalize_function

GROUP = "cls_fp_group.c"
O2 = ("-g", "-O2")


def _frames_pcs(snapshot: dict) -> list[int]:
    return [f["pc"] for t in snapshot["threads"] if t["crashed"] for f in t["frames"]]


def test_same_bug_across_aslr(analyzed: Factory) -> None:
    one, two = analyzed(GROUP, "b", "1"), analyzed(GROUP, "b", "1", run="second")
    assert _frames_pcs(one.snapshot) != _frames_pcs(two.snapshot)  # ASLR moved the code
    assert one.fingerprint == two.fingerprint
    assert one.snapshot["fingerprint"]["frames"] == [
        "cls_fp_group!field_width",
        "cls_fp_group!lookup",
        "cls_fp_group!parse_record",
    ]


def test_same_bug_across_optimisation(analyzed: Factory) -> None:
    o0, o2 = analyzed(GROUP, "b", "1"), analyzed(GROUP, "b", "1", flags=O2)
    assert any(f["inline"] for f in o2.snapshot["threads"][0]["frames"])  # inlined at -O2
    assert o0.fingerprint == o2.fingerprint


def test_same_bug_across_inputs(analyzed: Factory) -> None:
    assert analyzed(GROUP, "b", "1").fingerprint == analyzed(GROUP, "b", "7").fingerprint


def test_same_bug_across_outer_callers(analyzed: Factory) -> None:
    direct, batched = analyzed(GROUP, "b", "1"), analyzed(GROUP, "a", "3")
    functions = [f["function"] for f in batched.snapshot["threads"][0]["frames"]]
    assert "batch" in functions
    assert "cls_fp_group!batch" not in direct.snapshot["fingerprint"]["frames"]
    assert direct.fingerprint == batched.fingerprint


@pytest.mark.parametrize("flags", [("-g", "-O0"), O2])
def test_same_class_other_site_differs(analyzed: Factory, flags: tuple[str, ...]) -> None:
    here, there = analyzed(GROUP, "b", "1", flags=flags), analyzed(GROUP, "o", "1", flags=flags)
    assert here.labels[0] == there.labels[0] == "null-deref"
    assert here.fingerprint != there.fingerprint


def test_unsymbolised_frames_use_module_offset_stable_under_aslr(analyzed: Factory) -> None:
    flags = ("-O0", "-s")
    one, two = (
        analyzed(GROUP, "b", "1", flags=flags),
        analyzed(GROUP, "b", "1", flags=flags, run="2"),
    )
    frames = one.snapshot["fingerprint"]["frames"]
    assert all(f.startswith("cls_fp_group+0x") for f in frames), frames
    assert one.fingerprint == two.fingerprint
    assert _frames_pcs(one.snapshot) != _frames_pcs(two.snapshot)


@pytest.mark.parametrize(
    ("name", "normal"),
    [
        ("_ZN7storage5Table6lookupIiEERKT_PKc", "storage::Table::lookup"),
        ("std::vector<int, std::allocator<int> >::push_back(int const&)", "std::vector::push_back"),
        ("parse_record.isra.0", "parse_record"),
        ("field_width.constprop.0.cold", "field_width"),
        ("emit.part.3", "emit"),
        ("__libc_start_main@@GLIBC_2.34", "__libc_start_main"),
        ("__GI___assert_fail", "__assert_fail"),
        ("(anonymous namespace)::worker(int)", "{anonymous}::worker"),
        ("_ZN4core6option13expect_failed17h0123456789abcdefE", "core::option::expect_failed"),
    ],
)
def test_normalisation(name: str, normal: str) -> None:
    assert normalize_function(name)[0] == normal


def _snap(*functions: str | None) -> dict:
    frames = [
        {"index": i, "function": f, "module": "/usr/bin/app", "module_offset": 0x1000 + i}
        for i, f in enumerate(functions)
    ]
    return {"crashed_thread": 1, "threads": [{"tid": 1, "crashed": True, "frames": frames}]}


def test_noise_and_recursion_steps() -> None:
    snap = _snap(
        "__pthread_kill_implementation",
        "raise",
        "abort",
        "__assert_fail",
        "walk",
        "walk",
        "walk",
        "visit",
        "main",
        "_start",
    )
    fp, steps = explain(snap)
    assert fp["frames"] == ["app!walk", "app!visit", "app!main"]
    assert [s.title[0] for s in steps] == ["1", "2", "3", "4", "5", "6"]
    assert steps[-1].frames == [fp["hash"]]


def test_no_usable_frames_still_groups() -> None:
    snap = _snap("raise", "abort")
    snap["signal"] = {"name": "SIGABRT"}
    assert fingerprint(snap)["frames"] == ["<no frames>", "SIGABRT"]


def test_same_function_name_in_two_programs_differs(analyzed: Factory) -> None:
    # Both crash in `main` with nothing else on the stack: the module tells them apart.
    one, two = analyzed("cls_invalid_free.c"), analyzed("cls_heap_corruption.c")
    assert one.snapshot["fingerprint"]["frames"] == ["cls_invalid_free!main"]
    assert one.fingerprint != two.fingerprint


def test_library_versions_do_not_split_groups() -> None:
    def snap(lib: str) -> dict:
        frames = [{"index": 0, "function": "parse", "module": lib, "module_offset": 16}]
        return {"crashed_thread": 1, "threads": [{"tid": 1, "crashed": True, "frames": frames}]}

    old, new = (
        fingerprint(snap("/usr/lib/libfoo.so.1.2.3")),
        fingerprint(snap("/lib/libfoo.so.1.4")),
    )
    assert old == new and old["frames"] == ["libfoo.so!parse"]
