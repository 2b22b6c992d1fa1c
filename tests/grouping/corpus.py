"""The labelled grouping corpus: build, crash for real, snapshot with the real CLI; cached.

Two caches under ``CORESNAP_GROUPING_CACHE`` (default /tmp/coresnap-grouping-corpus):

- ``cores/<key>/``: the executable as it ran and the core the kernel wrote, keyed by the
  program's source hash, the build, the arguments, stdin, environment and rerun number;
- ``snaps/<key>-<code>.snap``: the snapshot ``coresnap snapshot CORE EXE -o FILE`` made of it,
  keyed also by a digest of the coresnap package's code and data (``code_digest()``), so any
  change to the snapshot or analysis code re-makes snapshots from the cached cores without
  crashing again: frames, classification and fingerprint always follow the code.

``python -m tests.grouping.corpus [--gdb] [ID_PREFIX...]`` runs cases and prints, for each, its
signal and gdb's innermost frames: the check to make when adding a case.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tests.crashes import crash
from tests.grouping.builds import CACHE, build_key, build_program, locked
from tests.grouping.truth import Case, Corpus, load
from tests.run_cli import coresnap

HERE = Path(__file__).resolve().parent

# The coresnap package the snapshot command imports (PYTHONPATH can put another first: a bench
# of an older version extracts it with git archive and runs with PYTHONPATH pointing there).
_SPEC = importlib.util.find_spec("coresnap")
PACKAGE = Path(_SPEC.origin).parent if _SPEC and _SPEC.origin else HERE.parents[1] / "coresnap"
# The runtimes need these to dump core at all: Go exits 2 on a panic unless told to crash.
_RUNTIME_ENV = {"go": {"GOTRACEBACK": "crash"}}
# "#3  0x00007f... in parse_cookie (header=..., r=...) at cookie.c:19"
_GDB_FRAME = re.compile(
    r"^#(?P<n>\d+)\s+(?:0x[0-9a-f]+ in )?(?P<func>.*?)(?: \([^()]*\))?"
    r"(?: at (?P<at>\S+)| from (?P<lib>\S+))?$",
    re.M,
)
_SIGNUMS = {"SIGSEGV": 11, "SIGABRT": 6, "SIGFPE": 8, "SIGILL": 4, "SIGBUS": 7, "SIGTRAP": 5}


class CorpusError(Exception):
    """Case ``case`` did not give what ``truth.toml`` declares (or could not be run)."""

    def __init__(self, case: str, what: str) -> None:
        super().__init__(f"case {case}: {what}")
        self.case = case
        self.what = what


@dataclass(frozen=True)
class Crashed:
    """A case after the run: the executable that crashed, its symbol twin, core and snapshot."""

    case: Case
    exe: Path
    symbols: Path  # the unstripped twin of a stripped build (the exe itself otherwise)
    core: Path
    snapshot: Path


def code_digest(package: Path = PACKAGE) -> str:
    """A digest of coresnap's code and data files: snapshots made by other code are stale."""
    h = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.suffix in (".py", ".txt", ".json") and "__pycache__" not in path.parts:
            h.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def case_env(corpus: Corpus, case: Case) -> dict[str, str]:
    """The whole environment of a run: a fixed minimum, the runtime's, then the case's own."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C", "HOME": "/tmp"}
    env.update(_RUNTIME_ENV.get(corpus.programs[case.program].language, {}))
    env.update(dict(case.env))
    return env


def core_key(corpus: Corpus, case: Case) -> str:
    program, build = corpus.programs[case.program], corpus.builds[case.build]
    run = json.dumps([case.args, case.stdin, case_env(corpus, case), case.rerun])
    return hashlib.sha256((build_key(program, build) + run).encode()).hexdigest()[:20]


def _crash(corpus: Corpus, case: Case, exe: Path, cwd: Path) -> Path:
    """Run the case in ``cwd`` (once: the core is kept) and return the core."""
    meta = cwd / "crash.json"
    if meta.exists():
        return cwd / json.loads(meta.read_text())["core"]
    shutil.rmtree(cwd, ignore_errors=True)
    try:
        result = crash(
            exe,
            case.args,
            cwd=cwd,
            env=case_env(corpus, case),
            stdin=case.stdin.encode(),
            expect_signal=_SIGNUMS[case.signal],
        )
    except (AssertionError, OSError, subprocess.TimeoutExpired) as e:
        raise CorpusError(case.id, f"did not crash as declared ({case.signal}): {e}") from e
    err = result.stderr  # Go's goroutine dump is long: its first lines say what happened
    err = err if len(err) <= 3000 else err[:1500] + "\n[...]\n" + err[-1500:]
    meta.write_text(json.dumps({"core": result.core.name, "signal": result.signal, "stderr": err}))
    return result.core


def run_case(corpus: Corpus, case: Case, code: str) -> Crashed:
    """Build, crash and snapshot one case, each step only if its cache lacks it."""
    program, build = corpus.programs[case.program], corpus.builds[case.build]
    exe = build_program(program, build, corpus.builds)
    symbols = exe
    if build.strip_of:
        symbols = build_program(program, corpus.builds[build.strip_of], corpus.builds)
    key = core_key(corpus, case)
    cwd = CACHE / "cores" / key
    with locked(CACHE / "cores" / f"{key}.lock"):
        core = _crash(corpus, case, exe, cwd)
        snap = CACHE / "snaps" / f"{key}-{code}.snap"
        if not snap.exists():
            snap = _snapshot(case, core, cwd / exe.name, snap, code)
    return Crashed(case, cwd / exe.name, symbols, core, snap)


def _snapshot(case: Case, core: Path, exe: Path, snap: Path, code: str) -> Path:
    """``coresnap snapshot CORE EXE -o FILE`` into the cache as ``snap`` (raises CorpusError).

    Others edit coresnap in this checkout: a snapshot that failed while the code changed is made
    once more, and one made while it changed is this run's only (no digest names its code).
    """
    snap.parent.mkdir(parents=True, exist_ok=True)
    tmp = snap.with_name(snap.name + f".tmp{os.getpid()}")
    for _ in range(2):
        done = coresnap("snapshot", str(core), str(exe), "-o", str(tmp))
        stable = code_digest() == code
        if done.returncode == 0 or stable:
            break
    if done.returncode != 0:
        raise CorpusError(case.id, f"coresnap snapshot failed: {done.stderr[-2000:]}")
    if not stable:
        snap = snap.with_name(snap.name.replace(".snap", f".unstable{os.getpid()}.snap"))
    os.replace(tmp, snap)
    return snap


def run(cases: Iterable[Case], corpus: Corpus | None = None, jobs: int = 2) -> list[Crashed]:
    """Run ``cases`` (``jobs`` at a time) and return them in order; raises CorpusError/BuildError.

    Builds of one program are shared by its cases and made once (a lock per build).
    """
    corpus = corpus or load()
    code = code_digest()
    for stale in (CACHE / "snaps").glob("*.unstable*.snap"):
        if time.time() - stale.stat().st_mtime > 3600:  # a run that used it is long over
            stale.unlink(missing_ok=True)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(lambda c: run_case(corpus, c, code), cases))


def gdb_frames(crashed: Crashed, n: int = 12) -> list[str]:
    """gdb's innermost ``n`` frames of the crash as ``function file:line`` (symbols from the
    unstripped twin): an outside view of where each case crashed."""
    done = subprocess.run(
        ["gdb", "-batch", "-nx", "-ex", "set print frame-arguments none", "-ex", f"bt {n}"]
        + [str(crashed.symbols), str(crashed.core)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    frames: dict[str, str] = {}  # gdb shows frame #0 once more before the backtrace
    for m in _GDB_FRAME.finditer(done.stdout):
        where = Path(m["at"] or m["lib"] or "").name
        frames.setdefault(m["n"], f"#{m['n']} {m['func']} {where}".rstrip())
    return list(frames.values())


def last_words(crashed: Crashed) -> str:
    """What the program said when it died: Go's ``panic:``/``fatal error:`` line, the line after
    Rust's ``panicked at``, or the last line written to stderr (a message, an assertion)."""
    meta = json.loads((crashed.core.parent / "crash.json").read_text())
    lines = [line for line in meta["stderr"].splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if line.startswith(("panic: ", "fatal error: ")):
            return line[:160]
        if " panicked at " in line and i + 1 < len(lines):
            return lines[i + 1][:160]
    return lines[-1][-160:] if lines else ""


def main(argv: Sequence[str] = ()) -> int:
    """Run the cases whose id starts with one of ``argv`` (all without) and print what happened."""
    show_gdb = "--gdb" in argv
    prefixes = [a for a in argv if not a.startswith("--")]
    corpus = load()
    cases = [c for c in corpus.cases if not prefixes or c.id.startswith(tuple(prefixes))]
    for done in run(cases, corpus):
        c = done.case
        print(f"{c.id}: {c.signal} bug={c.bug} class={c.cls} blame={c.blame}")
        print(f"    stderr: {last_words(done)}")
        for line in gdb_frames(done) if show_gdb else ():
            print("    " + line[:160])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
