"""Crash Node.js for real: a script of tests/programs/node under ``node
--abort-on-uncaught-exception`` in its own directory, the core the kernel wrote, and the JS
stack Node itself printed to stderr (the outside oracle for the JS frames).

Node prints the stack it aborts in one of three shapes: V8's (``Uncaught TypeError: ...``,
``FROM``, then ``fn (file:line:col)`` lines), Node's fatal handler (the error's own ``stack``
with ``    at`` lines, then ``----- JavaScript stack trace -----`` and ``1: fn (...)`` lines), or
Node's abort (``process.abort()``: the JavaScript stack trace section only).
"""

from __future__ import annotations

import functools
import os
import re
import resource
import signal
import subprocess
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from tests.crashes import PROGRAMS, build, core_pattern

# CORESNAP_TEST_NODE runs the tests against another node build (or a wrapper that execs one).
NODE = Path(os.environ.get("CORESNAP_TEST_NODE", "/usr/bin/node"))
NODE_INCLUDE = Path("/usr/include/node")
NODE_PROGRAMS = PROGRAMS / "node"
ABORT_FLAGS = ("--abort-on-uncaught-exception",)
# One located frame as V8 and Node print it: "fn (file:line:col)", "file:line:col",
# "1: fn (...)", "    at async fn (...)". V8 10.2 prints its frames without newlines between
# them, so frames are found anywhere in the text, not line by line.
_LOCATED = re.compile(
    r"(?:\d+: |\s*at )?(?:(?:async |new )?(?P<function>[^\n()]+?) \()?"
    r"(?P<file>[^\s()]+?):(?P<line>\d+):(?P<column>\d+)\)?"
)
_SECTIONS = ("\nFROM\n", "----- JavaScript stack trace -----\n")


@dataclass(frozen=True)
class StackLine:
    function: str | None  # as Node prints it: "Cart.total", "Object.<anonymous>", None
    file: str
    line: int
    column: int


def _located(text: str) -> list[StackLine]:
    return [
        StackLine(m["function"], m["file"], int(m["line"]), int(m["column"]))
        for m in _LOCATED.finditer(text)
    ]


@dataclass(frozen=True)
class NodeCrash:
    script: Path
    core: Path
    signal: int
    stderr: str

    @cached_property
    def current_stack(self) -> list[StackLine]:
        """The JS frames on the stack when Node died, with a location (builtins have none)."""
        for marker in _SECTIONS:
            if marker in self.stderr:
                section = self.stderr.split(marker, 1)[1].strip("\n").split("\n\n", 1)[0]
                return _located(section)
        return []

    @cached_property
    def error_stack(self) -> list[StackLine]:
        """The frames of the error's own ``stack`` Node printed (the fatal handler's shape)."""
        lines = [t for t in self.stderr.splitlines() if t.startswith("    at ")]
        return _located("\n".join(lines))

    @cached_property
    def uncaught(self) -> str | None:
        """What was thrown, as Node printed it: after ``Uncaught`` (V8's shape), or the line
        above the error's first ``    at`` line (the fatal handler's shape)."""
        lines = self.stderr.splitlines()
        for text in lines:
            if text.startswith("Uncaught "):
                return text[len("Uncaught ") :]
        at = next((i for i, t in enumerate(lines) if t.startswith("    at ")), None)
        return lines[at - 1] if at else None


@functools.cache
def _node_facts() -> list[str]:
    """The V8 version of NODE, then the lines of its /proc/self/maps."""
    script = "process.versions.v8 + '\\n' + require('fs').readFileSync('/proc/self/maps', 'utf8')"
    return subprocess.run(
        [str(NODE), "-p", script], capture_output=True, text=True, check=False
    ).stdout.splitlines()


def v8_version() -> str:
    """NODE's V8 version ("11.3.244.8-node.38"), "" if node does not run."""
    facts = _node_facts()
    return facts[0] if facts else ""


def skip_reason() -> str | None:
    """Why the Node tests cannot run here, or None."""
    if not NODE.is_file():
        return f"{NODE} is missing (tools/setup-system.sh installs nodejs)"
    from coresnap.analysis.v8.metadata import exported_symbols, layouts

    facts = _node_facts()
    if not facts:
        return f"{NODE} -p failed"
    # The metadata is in the executable (NodeSource, nodejs.org) or its libnode (Debian).
    mapped = {line.split()[-1] for line in facts[1:] if line.count(" ") >= 5 and "/" in line}
    if not any("node" in Path(p).name and exported_symbols(p) for p in mapped):
        return f"{NODE} maps no file exporting the v8dbg_ postmortem metadata"
    if ".".join(facts[0].split(".")[:2]) not in layouts():
        return f"V8 {facts[0]} of {NODE} is not in coresnap/analysis/v8/layouts.json"
    return None


def _core_limit() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


def crash_node(
    script: str, *args: str, cwd: Path, node_flags: tuple[str, ...] = ABORT_FLAGS
) -> NodeCrash:
    """Run ``tests/programs/node/<script>`` (copied into ``cwd``) until Node dies of a signal."""
    cwd.mkdir(parents=True, exist_ok=True)
    local = cwd / script
    local.write_bytes((NODE_PROGRAMS / script).read_bytes())
    with core_pattern(shared=True) as pattern:
        if pattern.startswith("|") or "/" in pattern:
            raise RuntimeError(f"kernel.core_pattern is {pattern!r}; need a relative pattern")
        proc = subprocess.run(
            [str(NODE), *node_flags, str(local), *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=_core_limit,
            check=False,
        )
    if proc.returncode >= 0:
        raise AssertionError(f"{script} exited with {proc.returncode}\n{proc.stderr}")
    # The default relative patterns write "core" or "core.<pid>" into the (fresh) cwd.
    found = sorted(p for p in cwd.iterdir() if p.name == "core" or p.name.startswith("core."))
    if found:
        return NodeCrash(local, found[0], -proc.returncode, proc.stderr)
    name = signal.Signals(-proc.returncode).name
    raise AssertionError(f"{script} died of {name} but left no core in {cwd}")


def build_addon() -> Path:
    """The Node-API addon of tests/programs/node/addon_null.c, built with gcc against Node's
    headers (no node-gyp: a Node-API addon is a shared object resolving napi_* from node)."""
    return build(
        NODE_PROGRAMS / "addon_null.c",
        flags=("-g", "-O0", "-shared", "-fPIC", f"-I{NODE_INCLUDE}"),
    )


def addon_skip_reason() -> str | None:
    if not (NODE_INCLUDE / "node_api.h").is_file():
        return f"no Node-API headers in {NODE_INCLUDE} (Node's dev headers are not installed)"
    return None
