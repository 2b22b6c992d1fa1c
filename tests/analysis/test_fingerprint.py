"""Fingerprint v2: one group per bug. Real crashes for the relations (same bug -> same hash under
ASLR, -O0/-O2, inputs, outer callers; other site -> other hash), hand-made snapshots for each
step of the algorithm (lists/README.md)."""

from __future__ import annotations

from typing import Any

import pytest

from coresnap.analysis.fingerprint import explain, fingerprint, normalize_function
from tests.analysis.analysis_support import Factory

GROUP = "cls_fp_group.c"
O2 = ("-g", "-O2")


def _frames_pcs(snapshot: dict) -> list[int]:
    return [f["pc"] for t in snapshot["threads"] if t["crashed"] for f in t["frames"]]


def test_same_bug_across_aslr(analyzed: Factory) -> None:
    one, two = analyzed(GROUP, "b", "1"), analyzed(GROUP, "b", "1", run="second")
    assert _frames_pcs(one.snapshot) != _frames_pcs(two.snapshot)  # ASLR moved the code
    assert one.fingerprint == two.fingerprint
    fp = one.snapshot["fingerprint"]
    assert fp["frames"] == ["cls_fp_group!field_width"]
    assert fp["site"] == "cls_fp_group.c:23" and fp["family"] == "memory"
    assert fp["blame"]["function"] == "field_width" and fp["blame"]["role"] == "own"
    assert fp["aliases"] == two.snapshot["fingerprint"]["aliases"] != []


def test_same_bug_across_optimisation(analyzed: Factory) -> None:
    o0, o2 = analyzed(GROUP, "b", "1"), analyzed(GROUP, "b", "1", flags=O2)
    assert any(f["inline"] for f in o2.snapshot["threads"][0]["frames"])  # inlined at -O2
    assert o0.fingerprint == o2.fingerprint
    # Different code, different address keys: only names and lines meet across builds.
    assert o0.snapshot["fingerprint"]["aliases"] != o2.snapshot["fingerprint"]["aliases"]


def test_same_bug_across_inputs(analyzed: Factory) -> None:
    assert analyzed(GROUP, "b", "1").fingerprint == analyzed(GROUP, "b", "7").fingerprint


def test_same_bug_across_outer_callers(analyzed: Factory) -> None:
    direct, batched = analyzed(GROUP, "b", "1"), analyzed(GROUP, "a", "3")
    functions = [f["function"] for f in batched.snapshot["threads"][0]["frames"]]
    assert "batch" in functions
    assert direct.fingerprint == batched.fingerprint


@pytest.mark.parametrize("flags", [("-g", "-O0"), O2])
def test_same_class_other_site_differs(analyzed: Factory, flags: tuple[str, ...]) -> None:
    here, there = analyzed(GROUP, "b", "1", flags=flags), analyzed(GROUP, "o", "1", flags=flags)
    assert here.labels[0] == there.labels[0] == "null-deref"
    assert here.fingerprint != there.fingerprint


def test_stripped_frames_use_module_offsets_stable_under_aslr(analyzed: Factory) -> None:
    flags = ("-O0", "-s")
    one, two = (
        analyzed(GROUP, "b", "1", flags=flags),
        analyzed(GROUP, "b", "1", flags=flags, run="2"),
    )
    frames = one.snapshot["fingerprint"]["frames"]
    assert len(frames) == 1 and frames[0].startswith("cls_fp_group"), frames
    assert one.fingerprint == two.fingerprint
    assert _frames_pcs(one.snapshot) != _frames_pcs(two.snapshot)


@pytest.mark.parametrize(
    ("name", "normal"),
    [
        ("_ZN7storage5Table6lookupIiEERKT_PKc", "storage::Table::lookup"),
        ("std::vector<int, std::allocator<int> >::push_back(int const&)", "std::vector::push_back"),
        ("parse_record.isra.0", "parse_record"),
        ("field_width.constprop.0.cold", "field_width"),
        ("parse(char const*) [clone .cold]", "parse"),
        ("f [clone .isra.0]", "f"),
        ("emit.part.3", "emit"),
        ("__libc_start_main@@GLIBC_2.34", "__libc_start_main"),
        ("__GI___assert_fail", "__assert_fail"),
        ("(anonymous namespace)::worker(int)", "{anonymous}::worker"),
        ("_ZN4core6option13expect_failed17h0123456789abcdefE", "core::option::expect_failed"),
        (
            "_RNvNtCsgEmfK2I1SDS_4core9panicking18panic_bounds_check",
            "core::panicking::panic_bounds_check",
        ),
        ("main::main::h8da7fa642d137fc6", "main::main"),
        ("<app::Cache as core::fmt::Debug>::fmt", "app::Cache::fmt"),
        ("std::rt::lang_start::{{closure}}", "std::rt::lang_start::{closure}"),
        ("__strlen_evex", "strlen"),
        ("__strlen_avx2", "strlen"),
        ("__memmove_avx_unaligned_erms", "memmove"),
        ("shop::Catalog<int>::total", "shop::Catalog::total"),
        ("main(int, char**)::<lambda()>::operator()", "main::{lambda}::operator()"),
        ("main::{lambda()#1}::operator()() const", "main::{lambda}::operator()"),
        ("std::function<int ()>::operator()() const", "std::function::operator()"),
        ("std::vector<int>::operator[](unsigned long)", "std::vector::operator[]"),
        ("Foo::operator bool() const", "Foo::operator bool"),
        ("int twice<long>(long)", "twice"),
        ("main.(*Cache).evict", "main.(*Cache).evict"),
        ("main.Sum[go.shape.int_0]", "main.Sum"),
        ("<signal handler called>", "<signal handler called>"),
    ],
)
def test_normalisation(name: str, normal: str) -> None:
    assert normalize_function(name)[0] == normal


def _snap(*functions: str | None, labels: tuple[str, ...] = ("null-deref",), **extra: Any) -> dict:
    frames = [
        {
            "index": i,
            "function": f,
            "module": "/usr/bin/app",
            "module_offset": 0x1000 + 16 * i,
            "file": "app.c" if f else None,
            "line": 10 + i if f else None,
            "inline": False,
        }
        for i, f in enumerate(functions)
    ]
    return {
        "process": {"exe": "/usr/bin/app"},
        "crashed_thread": 1,
        "threads": [{"tid": 1, "crashed": True, "frames": frames}],
        "classification": {"labels": list(labels), "evidence": extra.pop("evidence", [])},
        **extra,
    }


def test_the_first_own_frame_is_blamed_past_noise_and_runtimes() -> None:
    snap = _snap("__pthread_kill_implementation", "raise", "abort", "__assert_fail", "walk",
                 "visit", "main", "_start", labels=("assert",))  # fmt: skip
    fp, steps = explain(snap)
    assert fp["frames"] == ["app!walk"] and fp["site"] == "app.c:14"
    assert fp["family"] == "abort" and fp["blame"]["frame"] == 4
    assert [s.title[0] for s in steps] == ["1", "2", "3", "4", "5", "6", "7"]
    assert steps[5].frames[0] == fp["hash"]


def test_the_site_and_class_family_tell_bugs_in_one_function_apart() -> None:
    line_10, line_11 = _snap("parse", "main"), _snap("parse", "main")
    line_11["threads"][0]["frames"][0]["line"] = 11
    assert fingerprint(line_10)["hash"] != fingerprint(line_11)["hash"]
    assert (
        fingerprint(line_10)["hash"]
        != fingerprint(_snap("parse", "main", labels=("assert",)))["hash"]
    )
    # NULL in one run, garbage in the next: one family, one group.
    assert (
        fingerprint(line_10)["hash"]
        == fingerprint(_snap("parse", "main", labels=("invalid-pointer",)))["hash"]
    )


def test_two_asserts_on_one_line_differ_by_expression() -> None:
    def said(expr: str) -> dict:
        evidence = [{"label": "assert", "facts": {"expression": expr}}]
        return fingerprint(_snap("abort", "check_all", labels=("assert",), evidence=evidence))

    assert said("n > 0")["hash"] != said("p != NULL")["hash"]
    assert said("n > 0")["hash"] == said("n  >  0")["hash"]


def test_generic_helper_adds_its_caller() -> None:
    one, two = (
        _snap("abort", "die", "load_config", "main"),
        _snap("abort", "die", "parse_args", "main"),
    )
    fp = fingerprint(one)
    assert fp["frames"] == ["app!die", "app!load_config"] and fp["site"] == "app.c:11"
    assert fp["blame"]["function"] == "die" and fp["blame"]["callers"] == ["app!load_config"]
    assert fp["hash"] != fingerprint(two)["hash"]


def test_outer_callers_do_not_count_for_other_functions() -> None:
    one, two = _snap("parse", "load_config", "main"), _snap("parse", "parse_args", "main")
    assert fingerprint(one)["hash"] == fingerprint(two)["hash"]


def test_stack_overflow_blames_the_recursion_not_the_depth() -> None:
    deep = _snap("memset", "walk", "walk", "walk", "visit", labels=("stack-overflow",))
    deep["threads"][0]["frames"][0]["module"] = "/usr/lib/x86_64-linux-gnu/libc.so.6"
    shallow = _snap("walk", "walk", "visit", labels=("stack-overflow",))
    assert fingerprint(deep)["frames"] == ["app!walk"] and fingerprint(deep)["site"] is None
    assert fingerprint(deep)["hash"] == fingerprint(shallow)["hash"]


def test_an_unknown_frame_below_the_top_ends_the_search() -> None:
    snap = _snap("inflate", None, "main")
    snap["threads"][0]["frames"][0]["module"] = "/usr/lib/x86_64-linux-gnu/libz.so.1"
    snap["threads"][0]["frames"][1]["module"] = None
    fp = fingerprint(snap)
    assert fp["frames"] == ["libz.so!inflate"] and fp["blame"]["role"] == "library"
    assert fp["site"] is None  # whether a host has libc's debug info must not matter


def test_no_usable_frames_still_groups_by_program() -> None:
    snap = _snap("raise", "abort", labels=("abort",))
    fp = fingerprint(snap)
    assert fp["frames"] == ["<no frames>", "app"] and fp["blame"] is None
    other = _snap("raise", "abort", labels=("abort",))
    other["process"]["exe"] = "/usr/bin/other"
    assert fingerprint(other)["hash"] != fp["hash"]


def test_same_function_name_in_two_programs_differs(analyzed: Factory) -> None:
    # Both crash in `main` with nothing else on the stack: the module tells them apart.
    one, two = analyzed("cls_invalid_free.c"), analyzed("cls_heap_corruption.c")
    assert one.snapshot["fingerprint"]["frames"] == ["cls_invalid_free!main"]
    assert one.fingerprint != two.fingerprint


def test_library_versions_do_not_split_groups() -> None:
    def snap(lib: str) -> dict:
        s = _snap("parse")
        s["threads"][0]["frames"][0]["module"] = lib
        return s

    old, new = (
        fingerprint(snap("/usr/lib/libfoo.so.1.2.3")),
        fingerprint(snap("/lib/libfoo.so.1.4")),
    )
    assert old["hash"] == new["hash"] and old["frames"] == ["libfoo.so!parse"]


def test_nameless_frames_in_a_named_module_are_skipped() -> None:
    snap = _snap("runtime.sigtramp", None, "main.walk", "main.main")
    snap["threads"][0]["frames"][1]["function"] = None
    assert fingerprint(snap)["frames"] == ["app!main.walk"]


def test_function_keys_meet_a_build_without_lines_or_inline_frames() -> None:
    """-O2 -g blames ``evict`` inlined into ``resize`` at a line; -O2 without -g has neither the
    line nor the inline frame: it blames ``resize`` at an offset. Their keys differ, one
    function key is shared (the store joins on it while the lined group is the only one)."""
    lined = _snap("evict", "resize", "main")
    lined["threads"][0]["frames"][0]["inline"] = True
    bare = _snap("resize", "main")
    for frame in bare["threads"][0]["frames"]:
        frame.update(file=None, line=None, function_offset=0x2A)
    with_g, without = fingerprint(lined), fingerprint(bare)
    assert with_g["hash"] != without["hash"] and without["site"] == "+0x2a"
    assert with_g["blame"]["function"] == "evict" and with_g["blame"]["container"] == "resize"
    assert len(with_g["weak"]) == 2 and without["weak"][0] == with_g["weak"][1]
    other_class = fingerprint(_snap("resize", "main", labels=("div-by-zero",)))
    assert not set(other_class["weak"]) & set(with_g["weak"])


def test_a_program_function_whose_line_is_inlined_library_code_is_own_at_its_offset() -> None:
    """-O Rust: unwrap inlined into parse_count with no inline frame puts parse_count's pc at a
    line of core's result.rs. The name says whose function it is (not a library namespace);
    the site is its offset, as a build without -g spells it. A library template's real frame
    (std::vector::at, in /usr/include) stays library."""
    snap = _snap(
        "core::result::unwrap_failed", "app::cli::parse_count", "app::main", labels=("abort",)
    )
    frames = snap["threads"][0]["frames"]
    frames[0]["file"] = "/rustc/59807616e1fa/library/core/src/result.rs"
    frames[1].update(
        file="/rustc/59807616e1fa/library/core/src/result.rs", line=1233, function_offset=0xFF
    )
    fp = fingerprint(snap)
    assert fp["blame"]["function"] == "app::cli::parse_count" and fp["site"] == "+0xff"
    template = _snap("std::vector<int>::at", "app::lookup", labels=("abort",))
    template["threads"][0]["frames"][0]["file"] = "/usr/include/c++/12/bits/stl_vector.h"
    assert fingerprint(template)["blame"]["function"] == "app::lookup"
