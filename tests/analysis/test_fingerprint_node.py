"""Fingerprint v2 on real Node.js crashes: every uncaught JS exception used to land in one group
(V8's abort path is the same for all); now each throw site is its own group, blamed on the JS
function that threw, and a rerun of the same bug keeps its group."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from coresnap.snapshot.build import build_snapshot
from tests.node_crashes import crash_node, skip_reason

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=str(skip_reason()))

# script -> the JS function a developer would blame (the thrower, or the faulting one).
BUGS = {
    "null_header.js": "parseHeader",
    "range_error.js": "Cart.total",
    "throw_string.js": "loadConfig",
    "throw_object.js": "validate",
    "anonymous.js": "<anonymous>",
    "json_parse.js": "onTick",
    "async_reject.js": "fetchUser",
}


@pytest.fixture(scope="module")
def fingerprints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    out = {}
    for script in [*BUGS, "null_header.js#rerun"]:
        name = script.split("#")[0]
        died = crash_node(name, cwd=tmp_path_factory.mktemp(Path(name).stem))
        out[script] = build_snapshot(died.core, analyze=True)["fingerprint"]
    return out


def test_each_uncaught_exception_is_its_own_group(fingerprints: dict[str, dict[str, Any]]) -> None:
    hashes = {script: fp["hash"] for script, fp in fingerprints.items() if "#" not in script}
    assert len(set(hashes.values())) == len(BUGS), hashes
    assert fingerprints["null_header.js#rerun"]["hash"] == hashes["null_header.js"]


@pytest.mark.parametrize(("script", "function"), BUGS.items())
def test_the_js_thrower_is_blamed(
    fingerprints: dict[str, dict[str, Any]], script: str, function: str
) -> None:
    blame = fingerprints[script]["blame"]
    assert blame is not None and blame["role"] == "own"
    assert blame["function"].split(".")[-1] == function.split(".")[-1], blame
    assert blame["file"].endswith(script), blame
    assert fingerprints[script]["site"].startswith(f"{script}:")
