"""Classification of real Node.js crashes: an uncaught JS exception is ``js-uncaught-exception``
with what was thrown and where (checked against what Node printed as it died); a native crash
in a Node process keeps the labels the other rules give it."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from coresnap.analysis import analyze
from coresnap.analysis.classify import RULES, classify
from coresnap.analysis.context import Context
from coresnap.corefile import open_core
from coresnap.snapshot.build import build_snapshot
from tests.node_crashes import (
    NodeCrash,
    addon_skip_reason,
    build_addon,
    crash_node,
    skip_reason,
    v8_version,
)
from tests.paths import ROOT

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=str(skip_reason()))

LABEL = "js-uncaught-exception"
Analyzed = tuple[NodeCrash, dict[str, Any]]


@pytest.fixture(scope="module")
def node_analyzed(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Analyzed]:
    """``node_analyzed(script, *args)``: crash once under --abort-on-uncaught-exception,
    snapshot and classify with the core open (as ``coresnap snapshot`` does); cached."""
    cache: dict[tuple[str, ...], Analyzed] = {}

    def get(script: str, *args: str) -> Analyzed:
        if (script, *args) not in cache:
            died = crash_node(script, *args, cwd=tmp_path_factory.mktemp(Path(script).stem))
            cache[(script, *args)] = (died, build_snapshot(died.core, analyze=True))
        return cache[(script, *args)]

    return get


def evidence(snap: dict[str, Any], label: str) -> dict[str, Any]:
    found = [e["facts"] for e in snap["classification"]["evidence"] if e["label"] == label]
    assert found, snap["classification"]
    return found[0]


def same_function(printed: str | None, ours: str | None) -> bool:
    """Node prints ``Type.name [as alias]``; V8's name is the last part (none when unnamed)."""
    if printed is None:
        return ours == "<anonymous>"
    name = re.sub(r" \[as [^\]]+\]$", "", printed)
    return ours is not None and (name == ours or name.endswith("." + ours))


# (script, type of what was thrown, the path of the abort: V8's, or Node's fatal handler)
UNCAUGHT = [
    ("null_header.js", "TypeError", "v8"),
    ("range_error.js", "RangeError", "v8"),
    ("throw_string.js", "string", "v8"),
    ("throw_object.js", "Object", "v8"),
    ("anonymous.js", "TypeError", "v8"),
    ("async_reject.js", "Error", "node"),
    ("esm_module.mjs", "TypeError", "node"),
]


@pytest.mark.parametrize(("script", "kind", "path"), UNCAUGHT)
def test_an_uncaught_exception_is_named_by_what_was_thrown(
    node_analyzed: Callable[..., Analyzed], script: str, kind: str, path: str
) -> None:
    died, snap = node_analyzed(script)
    assert snap["classification"]["labels"][0] == LABEL
    facts = evidence(snap, LABEL)
    assert facts["abort_path"].startswith(path)
    if path == "v8":
        assert facts["abort_frame"] == "v8::internal::Isolate::CreateMessageOrAbort"
    assert facts["exception_type"] == kind
    assert facts["exception"] == died.uncaught, died.stderr
    assert snap["classification"]["confidence"] == 1.0


@pytest.mark.parametrize(("script", "kind", "path"), UNCAUGHT)
def test_the_throw_site_is_where_node_says(
    node_analyzed: Callable[..., Analyzed], script: str, kind: str, path: str
) -> None:
    """V8's own record of the throw (the message object) against Node's printout: the first
    frame of V8's stack, or of the error's ``stack`` when Node's fatal handler printed it
    (a rejection: the thrower has left the stack by then)."""
    died, snap = node_analyzed(script)
    site = evidence(snap, LABEL)["thrown_at"]
    printed = died.error_stack[0] if died.error_stack else died.current_stack[0]
    assert (site["file"], site["line"], site["column"]) == (
        printed.file,
        printed.line,
        printed.column,
    )
    assert same_function(printed.function, site["function"]), (site, printed)


def test_an_exception_from_inside_a_builtin_has_no_script_site(
    node_analyzed: Callable[..., Analyzed], tmp_path: Path
) -> None:
    """JSON.parse's SyntaxError points into the JSON text (a script without a name): no throw
    site is claimed; the exception is still read."""
    died = crash_node("json_parse.js", cwd=tmp_path)
    snap = build_snapshot(died.core, analyze=True)
    facts = evidence(snap, LABEL)
    assert facts["exception_type"] == "SyntaxError"
    assert facts["exception"] == died.uncaught
    assert "thrown_at" not in facts


def test_process_abort_keeps_the_abort_label(node_analyzed: Callable[..., Analyzed]) -> None:
    """``process.abort()`` is a native abort under JS frames, not an uncaught exception."""
    died, snap = node_analyzed("process_abort.js")
    assert died.signal == 6
    assert snap["classification"]["labels"] == ["abort"]
    names = [f["function"] for f in next(t for t in snap["threads"] if t["crashed"])["frames"]]
    assert "shutdown" in names


@pytest.mark.skipif(addon_skip_reason() is not None, reason=str(addon_skip_reason()))
def test_a_native_addon_crash_keeps_the_labels_of_the_native_rules(
    node_analyzed: Callable[..., Analyzed],
) -> None:
    """A NULL dereference in a Node-API addon called from JS: the JS rule finds no abort path
    and leaves the verdict to the others (the same labels without it); the JS caller is named."""
    died, snap = node_analyzed("addon_null.js", str(build_addon()))
    assert LABEL not in snap["classification"]["labels"]
    with open_core(died.core) as core:
        ctx = Context.build(copy.deepcopy(snap), core)
        without = classify(ctx, [r for r in RULES if r.name != LABEL])
    assert snap["classification"]["labels"] == without["labels"]
    frames = next(t for t in snap["threads"] if t["crashed"])["frames"]
    names = [f["function"] for f in frames]
    assert names.index("record_id") < names.index("lookup")
    # Node prints no JS stack for a native fault: the oracle is the script's own text.
    call = next(i for i, t in enumerate(died.script.read_text().splitlines(), 1) if ".crash(" in t)
    lookup = frames[names.index("lookup")]
    assert lookup["language"] == "js" and (lookup["file"], lookup["line"]) == (
        str(died.script),
        call,
    )


def test_a_stored_snapshot_is_classified_the_same_without_the_core(
    node_analyzed: Callable[..., Analyzed],
) -> None:
    """The exception read from memory is an observation: re-classifying the stored snapshot
    (``coresnap reclassify``, no core) gives the same evidence."""
    _, snap = node_analyzed("null_header.js")
    again = analyze(copy.deepcopy(snap), None)
    assert again["classification"]["evidence"] == snap["classification"]["evidence"]


def _shown(title: str) -> dict[str, Any]:
    text = (ROOT / "docs" / "analysis.md").read_text()
    found = re.search(rf"<!-- real output: {re.escape(title)} -->\n```json\n(.*?)\n```", text, re.S)
    assert found, f"docs/analysis.md has no real output {title!r}"
    shown: dict[str, Any] = json.loads(found.group(1))
    return shown


def _without_dirs(value: Any) -> Any:
    """``value`` with the directories of paths left out (the crashes run in temporary ones)."""
    if isinstance(value, dict):
        return {k: _without_dirs(v) for k, v in value.items()}
    return re.sub(r"^/\S*/", "…/", value) if isinstance(value, str) else value


@pytest.mark.parametrize(
    ("title", "script"),
    [("node null header", "null_header.js"), ("node rejection", "async_reject.js")],
)
def test_the_outputs_docs_show_are_real(
    node_analyzed: Callable[..., Analyzed], title: str, script: str
) -> None:
    if not v8_version().startswith("11.3."):
        pytest.skip(f"the docs show Node 20's (V8 11.3) evidence, this node has V8 {v8_version()}")
    _, snap = node_analyzed(script)
    shown = snap["classification"]["evidence"][0]
    assert _without_dirs(shown) == _without_dirs(_shown(title))
