"""The privacy policy: which scrubbers are on, and their rules (docs/privacy.md).

The rules are data: the lists in ``coresnap/data/privacy/`` (its README.md numbers the
steps), extended by the ``privacy.*`` settings of coresnap.conf (``privacy.lists``
directories, ``privacy.names.N``, ``privacy.values.N``, ``privacy.flags.N``, ``privacy.keep``).
:mod:`.scrub` applies them. Stdlib only: coresnap-archive loads the policy at every crash.
"""

from __future__ import annotations

import fnmatch
import re
import zlib
from pathlib import Path
from typing import NamedTuple

from coresnap.config import Config
from coresnap.errors import ConfigError

LISTS = Path(__file__).resolve().parents[1] / "data" / "privacy"
LIST_FILES = ("names.txt", "values.txt", "pairs.txt", "flags.txt")
# Words of a name: runs of capitals before a capitalized word (HTTPServer), capitalized or
# lowercase words, capitals, digits. Everything else separates.
_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


class Rule(NamedTuple):
    """One line of a list: ``kind`` is ``name``, ``value``, ``pair`` or ``flag``."""

    kind: str
    pattern: str
    regex: re.Pattern[str]
    program: re.Pattern[str] | None = None  # flags: the programs the option belongs to

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.pattern}"


def words(name: str) -> str:
    """``name`` as names.txt sees it: ``_aws_secret_access_key_``, ``_api_key_``."""
    return "_" + "_".join(w.lower() for w in _WORDS.findall(name)) + "_"


def parse_rule(kind: str, line: str) -> Rule:
    """A rule from one list line. Raises ValueError (bad regex, flag line without option)."""
    try:
        if kind != "flag":
            return Rule(kind, line, re.compile(line))
        program, _, option = line.rpartition(" ")
        if not program.strip() or not option.startswith("-"):
            raise ValueError(f"expected '<program regex> -option', got {line!r}")
        return Rule(kind, option, re.compile(option), re.compile(program.strip()))
    except re.error as e:
        raise ValueError(f"bad regex {line!r}: {e}") from None


def read_list(path: Path, kind: str) -> list[Rule]:
    """The rules of one list file. Raises ConfigError(path:line, what)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(str(path), e.strerror or str(e)) from None
    rules = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            try:
                rules.append(parse_rule(kind, line))
            except ValueError as e:
                raise ConfigError(f"{path}:{number}", str(e)) from None
    return rules


class Policy(NamedTuple):
    """Which scrubbers are on, and their rules. (A NamedTuple, not a dataclass: the archive
    tool imports this for every crash, and dataclasses costs it milliseconds.)"""

    scrubbers: frozenset[str]
    names: tuple[Rule, ...]
    values: tuple[Rule, ...]
    pairs: tuple[Rule, ...]
    flags: tuple[Rule, ...]
    keep: tuple[str, ...] = ()  # shell wildcards: names never scrubbed for their name
    source: str = ""

    def on(self, scrubber: str) -> bool:
        return scrubber in self.scrubbers

    def secret_name(self, name: object) -> Rule | None:
        """The names.txt rule ``name`` matches, or None (also for a kept name)."""
        if not isinstance(name, str) or any(fnmatch.fnmatchcase(name, k) for k in self.keep):
            return None
        spelled = words(name)
        return next((r for r in self.names if r.regex.search(spelled)), None)

    @property
    def digest(self) -> str:
        """Names the rule set: the same digest, the same scrubbing. (CRC-32: an id, not a
        seal; zlib is loaded already, hashlib would cost the archive tool its OpenSSL start.)"""
        parts = [",".join(sorted(self.scrubbers)), *self.keep]
        for rule in (*self.names, *self.values, *self.pairs, *self.flags):
            parts.append(f"{rule.label} {rule.program.pattern if rule.program else ''}")
        crc = zlib.crc32("\n".join(parts).encode())
        return f"crc32:{crc:08x}"


def load_policy(cfg: Config) -> Policy:
    """The policy of a loaded coresnap.conf (:class:`coresnap.config.Config`): the shipped
    lists, the lists of each ``privacy.lists`` directory, the ``privacy.names.N``,
    ``privacy.values.N`` and ``privacy.flags.N`` settings.

    Raises:
        ConfigError: a list file cannot be read or holds a bad line.
    """
    found: dict[str, list[Rule]] = {name: [] for name in LIST_FILES}
    for directory in (LISTS, *(Path(d) for d in cfg["privacy.lists"])):
        for name in LIST_FILES:
            path = directory / name
            if directory == LISTS or path.exists():
                found[name] += read_list(path, name.removesuffix("s.txt"))
    for kind in ("name", "value", "flag"):
        found[f"{kind}s.txt"] += [
            parse_rule(kind, line) for line in cfg.numbered(f"privacy.{kind}s")
        ]
    return Policy(
        scrubbers=frozenset(cfg["privacy.scrub"]),
        names=tuple(found["names.txt"]),
        values=tuple(found["values.txt"]),
        pairs=tuple(found["pairs.txt"]),
        flags=tuple(found["flags.txt"]),
        keep=tuple(cfg["privacy.keep"]),
        source=cfg.source,
    )
