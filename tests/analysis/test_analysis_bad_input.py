"""Odd snapshots: missing fields, absurd addresses, frames without symbols. Never a crash."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from coresnap.analysis import analyze


def _labels(snapshot: dict[str, Any]) -> list[str]:
    return analyze(snapshot)["classification"]["labels"]


def test_empty_snapshot_is_unknown_with_reason() -> None:
    snap = analyze({})
    evidence = snap["classification"]["evidence"]
    assert snap["classification"]["labels"] == ["unknown"]
    assert evidence[0]["facts"]["reason"] == "the snapshot has no signal number"
    assert snap["fingerprint"]["frames"] == ["<no frames>", "?"]
    assert snap["quality"]["score"] == 60
    assert snap["quality"]["reasons"] == ["-40: the crashed thread is not known"]


def test_signal_without_code_is_unknown() -> None:
    snap = analyze({"signal": {"number": 11}})
    assert snap["classification"]["labels"] == ["unknown"]
    assert "without si_code" in snap["classification"]["evidence"][0]["facts"]["reason"]


def test_absurd_addresses_do_not_crash() -> None:
    snap = {
        "process": {"pid": 7},
        "signal": {"number": 11, "code": 1, "address": 2**70},
        "crashed_thread": 7,
        "threads": [{"tid": 7, "crashed": True, "registers": {"rip": -5, "rsp": 2**64 + 3}}],
        "memory_map": [{"start": 10, "end": 5, "perms": "r-x"}, {"start": "x"}],
    }
    assert _labels(snap) == ["invalid-pointer"]


def test_frames_without_symbols_use_module_offsets() -> None:
    frames = [
        {"index": 0, "pc": 0x401000, "module": "/opt/app/bin/server", "module_offset": 0x1000},
        {"index": 1, "pc": 0x401200, "module": None, "module_offset": None},
        {"index": 2, "pc": 0x401300, "module": "/opt/app/bin/server", "module_offset": 0x1300},
    ]
    snap = analyze(
        {
            "signal": {"number": 11, "code": 1, "address": 0},
            "crashed_thread": 1,
            "threads": [
                {"tid": 1, "crashed": True, "registers": {"rip": 0x401000}, "frames": frames}
            ],
        }
    )
    # The unknown frame below the top means the unwinder lost track: what follows is dropped.
    assert snap["fingerprint"]["frames"] == ["server+0x1000"]
    assert snap["classification"]["labels"] == ["null-deref"]
    assert snap["classification"]["evidence"][0]["confidence"] == 1.0
    assert (
        "access-kind: unknown: the instruction at the pc is unavailable"
        in (snap["classification"]["notes"])
    )
    assert any("1 of" not in r and "symbolised" in r for r in snap["quality"]["reasons"])


def test_rerun_without_core_is_stable() -> None:
    snap = analyze({"signal": {"number": 8, "code": 1, "address": 0x1000}})
    again = analyze(copy.deepcopy(snap))
    assert again["classification"] == snap["classification"]


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
_frame = st.fixed_dictionaries(
    {},
    optional={
        "function": st.none()
        | st.text(max_size=20)
        | st.sampled_from(["_ZN3foo3barEv", "abort", "0x10"]),
        "module": st.none() | st.text(max_size=10),
        "module_offset": st.none() | st.integers(-5, 2**64),
        "variables": st.lists(
            st.dictionaries(st.sampled_from(["name", "value", "type", "deref"]), _json), max_size=3
        ),
        "line": _json,
    },
)
_snapshot = st.fixed_dictionaries(
    {},
    optional={
        "process": st.dictionaries(st.sampled_from(["pid", "exe"]), _json),
        "signal": st.fixed_dictionaries(
            {},
            optional={
                "number": st.sampled_from([4, 6, 7, 8, 11, 99]) | _json,
                "code": st.sampled_from([-6, 0, 1, 2, 4, 0x80]) | _json,
                "address": _json,
                "sender_pid": _json,
            },
        ),
        "crashed_thread": _json,
        "threads": st.lists(
            st.fixed_dictionaries(
                {"tid": _json, "crashed": st.booleans()},
                optional={
                    "registers": st.dictionaries(st.sampled_from(["rip", "rsp", "rax"]), _json),
                    "frames": st.lists(_frame, max_size=5),
                },
            ),
            max_size=2,
        ),
        "memory_map": st.lists(
            st.dictionaries(st.sampled_from(["start", "end", "perms", "path"]), _json), max_size=3
        ),
        "modules": st.lists(
            st.dictionaries(st.sampled_from(["path", "start", "end", "build_id_mismatch"]), _json),
            max_size=2,
        ),
        "classification": _json,
    },
)


@settings(max_examples=300, deadline=None)
@given(_snapshot)
def test_fuzzed_snapshots_never_crash(snapshot: dict[str, Any]) -> None:
    out = analyze(snapshot)
    assert out["classification"]["labels"]
    assert 0 <= out["quality"]["score"] <= 100
    assert len(out["fingerprint"]["hash"]) == 64
