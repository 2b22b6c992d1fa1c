"""The grouping corpus's ground truth (``truth.toml``): builds, programs and crash cases.

The file is written by hand from what a user would call "the same bug", never from a
fingerprint. This module only reads and checks it: every case names a known program and build,
its language matches both, ids are unique, and a bug belongs to one program.
"""

from __future__ import annotations

import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TRUTH = HERE / "truth.toml"

# Which compilers build which language (a build named for another language is a mistake).
COMPILERS = {
    "c": ("gcc", "clang"),
    "c++": ("g++", "clang++"),
    "go": ("go",),
    "rust": ("rustc",),
    "node": ("node",),
}
SIGNALS = ("SIGSEGV", "SIGABRT", "SIGFPE", "SIGILL", "SIGBUS", "SIGTRAP")


class TruthError(Exception):
    """``truth.toml`` is wrong at ``where`` (a case id, a build or a program name)."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"{where}: {what}")
        self.where = where
        self.what = what


@dataclass(frozen=True)
class Build:
    """How to turn a program into an executable: a compiler and flags, or a stripped twin."""

    name: str
    compiler: str
    flags: tuple[str, ...] = ()
    strip_of: str | None = None  # a stripped copy of this build (same build id, its symbols)


@dataclass(frozen=True)
class Program:
    name: str
    language: str
    dir: Path
    flags: tuple[str, ...] = ()  # added to every build of the program (e.g. -fstack-protector)


@dataclass(frozen=True)
class Case:
    """One crash: a program built one way, run with these inputs, and what it should give."""

    id: str
    language: str
    program: str
    build: str
    bug: str
    cls: str  # the expected primary label ("class" in the file)
    blame: str
    signal: str
    args: tuple[str, ...] = ()
    stdin: str = ""
    env: tuple[tuple[str, str], ...] = ()
    rerun: int = 0  # a second run of the same inputs (ASLR moves every address)
    why: str = ""


@dataclass(frozen=True)
class Corpus:
    builds: dict[str, Build]
    programs: dict[str, Program]
    cases: list[Case] = field(default_factory=list)

    def bugs(self) -> dict[str, list[Case]]:
        out: dict[str, list[Case]] = {}
        for case in self.cases:
            out.setdefault(case.bug, []).append(case)
        return out


def _build(name: str, raw: dict[str, Any], raws: dict[str, Any]) -> Build:
    strip_of = raw.get("strip_of")
    if strip_of is not None:
        base = raws.get(strip_of)
        if base is None or "strip_of" in base:
            raise TruthError(name, f"strip_of {strip_of!r} is not an unstripped build")
        return Build(name, base["compiler"], tuple(base.get("flags", ())), strip_of)
    if "compiler" not in raw:
        raise TruthError(name, "a build needs a compiler (or strip_of)")
    return Build(name, raw["compiler"], tuple(raw.get("flags", ())))


def _case(raw: dict[str, Any], corpus: Corpus) -> Case:
    where = str(raw.get("id", "<case without id>"))
    try:
        case = Case(
            id=raw["id"],
            language=raw["language"],
            program=raw["program"],
            build=raw["build"],
            bug=raw["bug"],
            cls=raw["class"],
            blame=raw["blame"],
            signal=raw["signal"],
            args=tuple(str(a) for a in raw.get("args", ())),
            stdin=raw.get("stdin", ""),
            env=tuple(sorted((str(k), str(v)) for k, v in raw.get("env", {}).items())),
            rerun=int(raw.get("rerun", 0)),
            why=raw.get("why", ""),
        )
    except KeyError as e:
        raise TruthError(where, f"missing key {e.args[0]!r}") from None
    program = corpus.programs.get(case.program)
    build = corpus.builds.get(case.build)
    if program is None or build is None:
        raise TruthError(where, f"unknown program {case.program!r} or build {case.build!r}")
    if case.language != program.language:
        raise TruthError(
            where, f"language {case.language} but {program.name} is {program.language}"
        )
    if build.compiler not in COMPILERS.get(case.language, ()):
        raise TruthError(
            where, f"build {build.name} ({build.compiler}) cannot build {case.language}"
        )
    if case.signal not in SIGNALS:
        raise TruthError(where, f"signal {case.signal!r} is not one of {SIGNALS}")
    if not case.bug.startswith(case.program + "/"):
        raise TruthError(where, f"bug {case.bug!r} should be named {case.program}/<what>")
    return case


def load(path: Path = TRUTH) -> Corpus:
    """Read and check ``truth.toml``; raises TruthError naming the first bad entry."""
    with open(path, "rb") as f:
        raw = tomllib.load(f)
    raw_builds = raw.get("build", {})
    builds = {name: _build(name, b, raw_builds) for name, b in raw_builds.items()}
    programs = {}
    for name, p in raw.get("program", {}).items():
        if p.get("language") not in COMPILERS:
            raise TruthError(name, f"unknown language {p.get('language')!r}")
        programs[name] = Program(
            name, p["language"], path.parent / p["dir"], tuple(p.get("flags", ()))
        )
    corpus = Corpus(builds, programs)
    seen: set[str] = set()
    for entry in raw.get("case", []):
        case = _case(entry, corpus)
        if case.id in seen:
            raise TruthError(case.id, "duplicate case id")
        seen.add(case.id)
        corpus.cases.append(case)
    return corpus


def bug_table(corpus: Corpus) -> str:
    """The corpus as a Markdown table, one row per bug (docs/grouping-corpus.md shows it)."""
    rows = ["| bug | class | blame | crashes: builds |", "| --- | --- | --- | --- |"]
    for bug, cases in corpus.bugs().items():
        classes = ", ".join(dict.fromkeys(c.cls for c in cases))
        builds = ", ".join(c.build + (" (rerun)" if c.rerun else "") for c in cases)
        rows.append(f"| `{bug}` | {classes} | `{cases[0].blame}` | {len(cases)}: {builds} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    sys.stdout.write(bug_table(load()))
