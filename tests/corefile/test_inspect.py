"""``coresnap inspect`` on real cores, and docs/inspect.md kept true to the code."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from coresnap.corefile import open_core
from coresnap.corefile.summary import FORMAT, summarize
from tests.crashes import Crash

DOC = Path(__file__).parents[2] / "docs" / "inspect.md"
_DYNAMIC = {"registers", "auxv"}  # maps whose keys are register / AT_* names


def _inspect(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "coresnap.cli.coresnap", "inspect", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)


def _fields(value: Any, prefix: str = "") -> set[str]:
    """Dotted field names of a summarize() document (``threads[].tid``)."""
    out: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            name = f"{prefix}.{k}" if prefix else k
            if k in _DYNAMIC or prefix == "core.truncated[]":
                out.add(name)
            else:
                out |= _fields(v, name) or {name}
    elif isinstance(value, list):
        for item in value:
            out |= _fields(item, f"{prefix}[]")
        if not value or not isinstance(value[0], dict):
            out.add(prefix)  # a list of plain values (or empty): the list is the field
    return out


def test_json_output_of_a_threaded_crash(threads_crash: Crash) -> None:
    doc = json.loads(_inspect("--json", str(threads_crash.core)).stdout)
    assert doc["format"] == FORMAT
    assert doc["process"]["pid"] == threads_crash.pid
    assert doc["signal"]["name"] == "SIGSEGV" and doc["signal"]["addr"] == "0x0"
    tids = [int(t) for t in re.findall(r"tid (\d+) crasher", threads_crash.stdout)]
    assert doc["crashed_tid"] == tids[0] and doc["threads"][0]["crashed"]
    assert len(doc["threads"]) == 5
    assert all(int(t["registers"]["rip"], 16) == int(t["pc"], 16) for t in doc["threads"])
    labels = {m["label"] for m in doc["mappings"]}
    assert {"[stack]", "[vdso]", f"[stack:{tids[0]}]"} <= labels
    with open_core(threads_crash.core) as core:
        assert doc == json.loads(json.dumps(summarize(core)))


def test_human_output(null_crash: Crash) -> None:
    out = _inspect("--registers", str(null_crash.core)).stdout
    assert f"pid {null_crash.pid}" in out
    assert "SIGSEGV (11), SEGV_MAPERR (1), fault address 0x0" in out
    assert re.search(rf" \* tid {null_crash.pid} .* pc 0x[0-9a-f]+ ", out)
    assert re.search(r"rip +0x[0-9a-f]+", out)
    assert f"{null_crash.exe} [exe]" in out and "(core)" in out


def test_doc_lists_every_field_and_shows_real_output(null_crash: Crash) -> None:
    text = DOC.read_text()
    documented = set()
    for line in text.splitlines():
        if line.startswith("| `"):
            documented |= set(
                re.findall(r"`([a-z_]+(?:\[\])?(?:\.[a-z_]+(?:\[\])?)*)`", line.split("|")[1])
            )
    with open_core(null_crash.core) as core:
        produced = _fields(summarize(core))
    assert produced - documented == set(), "fields missing from docs/inspect.md"
    assert {f for f in documented if "." in f or f in produced} - produced == set()
    example = json.loads(re.search(r"```json\n(.*?)\n```", text, re.S).group(1))  # type: ignore[union-attr]
    assert example["format"] == FORMAT
    assert _fields(example) <= produced | {"core.truncated"}
