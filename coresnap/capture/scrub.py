"""Scrub secrets out of process text before it leaves the host, under a :class:`Policy`.

Four scrubbers, each one can be turned off (``privacy.scrub``):

- ``argv``: the value of a command-line option named like a secret (``--password=x``,
  ``--token x``) or listed in flags.txt for its program (``sshpass -p x``);
- ``environ``: the value of an environment variable named like a secret;
- ``variables``: (snapshots, :mod:`coresnap.snapshot.privacy`) a variable or struct member
  named like a secret;
- ``values``: in every string, secret formats (values.txt) and ``key=value`` pairs whose key
  is named like a secret (pairs.txt).

A removed value becomes :data:`MARK` and a record ``{where, scrubber, rule}`` says so, never
the value. A value removed once is removed wherever else the document holds it.
Stdlib only: coresnap-archive applies these rules to the asset tar it writes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from coresnap.capture.policy import Policy, Rule
from coresnap.config import PRIVACY_SCRUBBERS as SCRUBBERS

MARK = "<scrubbed>"
Where = str | Callable[[], str]  # a document path, or a function that spells it on demand
# A removed value this long or longer is also cut out of any other string that contains it;
# a shorter one only replaces strings equal to it ("abc" inside a build id is no secret), and
# one shorter than MIN_EQUAL nothing else (XDG_SESSION_ID=3 must not scrub every "3").
MIN_KNOWN = 6
MIN_EQUAL = 3
MAX_RECORDS = 256  # records kept in a document; the rest are counted in "more"


def _screen(rules: tuple[Rule, ...]) -> re.Pattern[str] | None:
    """One regex matching where any of ``rules`` may: most strings hold no secret, and one
    search is cheaper than one per rule. None (try each rule) if they cannot be joined."""
    try:
        return re.compile("|".join(f"(?:{r.pattern})" for r in rules)) if rules else None
    except re.error:  # e.g. two lines naming a group alike
        return None


def _cut_value(rule: Rule, found: list[tuple[str, str]], m: re.Match[str]) -> str:
    """The match ``m`` of a values.txt ``rule`` with its secret (group 1, or all) removed."""
    group = 1 if rule.regex.groups and m.group(1) is not None else 0
    found.append((rule.label, m.group(group)))
    start, end = m.start(group) - m.start(), m.end(group) - m.start()
    return m.group(0)[:start] + MARK + m.group(0)[end:]


class Scrub:
    """Scrubbing of one document (an asset tar, a snapshot): the records of what was removed
    and the removed values, looked for again in every later string."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.records: list[dict[str, str]] = []
        self.more = 0
        self._seen: set[tuple[str, str]] = set()
        self.known: dict[str, tuple[str, str]] = {}  # value → (scrubber, where first removed)
        self._done: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {}
        self._names: dict[str, Rule | None] = {}
        self._screen = _screen(policy.values)
        # Texts that :meth:`text` returned as they were, noting nothing, while ``known`` had
        # this many values (it only grows; a new value may be in any of them).
        self._untouched: set[str] = set()
        self._untouched_known = 0

    def note(self, where: Where, scrubber: str, rule: str, value: object = None) -> None:
        """Record that ``where`` lost ``value`` to ``rule``; remember the value."""
        where = where if isinstance(where, str) else where()
        if isinstance(value, str) and value and MARK not in value:
            self.known.setdefault(value, (scrubber, where))
        if (where, rule) in self._seen:
            return
        self._seen.add((where, rule))
        if len(self.records) < MAX_RECORDS:
            self.records.append({"where": where, "scrubber": scrubber, "rule": rule})
        else:
            self.more += 1

    def argv(self, args: list[str], where: str, program: str | None = None) -> list[str]:
        """``args`` with the values of secret options removed (when ``argv`` is on). The
        program is the base name of ``args[0]``, unless ``program`` says it (then ``args``
        has no program name: its first item may be an option)."""
        if not self.policy.on("argv") or not args:
            return list(args)
        first = 1 if program is None else 0
        program = os.path.basename(args[0]) if program is None else program
        flags = [r for r in self.policy.flags if r.program and r.program.fullmatch(program)]
        out, pending = list(args), None
        for i, arg in enumerate(args[first:], first):
            if arg == "--":  # the end of the options: the rest is operands
                break
            # A listed option takes the next argument whatever it is; an option that is only
            # named like a secret does not take an option after it (--password-stdin -v).
            if pending and (pending.kind == "flag" or not arg.startswith("-")):
                self.note(f"{where}[{i}]", "argv", pending.label, arg)
                out[i], pending = MARK, None
            elif arg.startswith("-") and arg != "-":
                out[i], pending = self._option(arg, flags, f"{where}[{i}]")
            else:
                pending = None
        return out

    def _option(self, arg: str, flags: list[Rule], where: str) -> tuple[str, Rule | None]:
        """(the option ``arg`` scrubbed, the rule that takes the next argument, if any)."""
        option, eq, value = arg.partition("=")
        listed = next((r for r in flags if r.pattern == option), None)
        attached = next((r for r in flags if len(r.pattern) == 2 and arg.startswith(r.pattern)
                         and len(arg) > 2 and not eq), None)  # fmt: skip
        if attached is not None:  # -pVALUE
            self.note(where, "argv", attached.label, arg[2:])
            return attached.pattern + MARK, None
        named = self.secret_name(option) if len(option.strip("-")) > 1 else None
        rule = listed or named
        if rule is None:
            return arg, None
        if eq:
            self.note(where, "argv", rule.label, value)
            return f"{option}={MARK}", None
        return arg, rule

    def environ(self, pairs: dict[str, str], where: str) -> dict[str, str]:
        """``pairs`` with the values of secret-named variables removed (``environ`` on)."""
        if not self.policy.on("environ"):
            return dict(pairs)
        out = {}
        for name, value in pairs.items():
            rule = self.secret_name(name)
            if rule is not None:
                self.note(f"{where}.{name}", "environ", rule.label, value)
                value = MARK
            out[name] = value
        return out

    def text(self, text: str, where: Where) -> str:
        """``text`` without secret formats and secret pairs (``values`` on) and without any
        value removed before in this document. ``where`` may be a function spelling it: it is
        called only if something is removed."""
        if self.untouched(text):
            return text
        original = text
        found: tuple[tuple[str, str], ...] = ()
        if self.policy.on("values") and len(text) >= MIN_EQUAL:
            # A snapshot repeats its strings (types, functions, paths): each is read once.
            done = self._done.get(text)
            if done is None:
                done = self._done[text] = self._values(text)
            text, found = done
            for label, value in found:
                self.note(where, "values", label, value)
        known = len(self.known)
        text = self._known(text, where) if known else text
        if not found and text == original and len(self.known) == known:
            if known != self._untouched_known:
                self._untouched, self._untouched_known = set(), known
            self._untouched.add(original)
        return text

    def untouched(self, text: str) -> bool:
        """Whether :meth:`text` is sure to return ``text`` as it is and note nothing (it did
        so before, and no value was removed since)."""
        return len(self.known) == self._untouched_known and text in self._untouched

    def _values(self, text: str) -> tuple[str, tuple[tuple[str, str], ...]]:
        """``text`` without its secret formats and pairs, and (rule, value) of each removed."""
        found: list[tuple[str, str]] = []
        if self._screen is None or self._screen.search(text):
            for rule in self.policy.values:
                text = rule.regex.sub(partial(_cut_value, rule, found), text)
        if "=" in text or '"' in text:  # every shape of pairs.txt has one
            for rule in self.policy.pairs:
                text = rule.regex.sub(partial(self._cut_pair, found), text)
        return text, tuple(found)

    def _cut_pair(self, found: list[tuple[str, str]], m: re.Match[str]) -> str:
        name = self.secret_name(m.group("key"))
        if name is None or m.group("value") == MARK:
            return m.group(0)
        found.append((name.label, m.group("value").strip("\"'")))
        start, end = m.start("value") - m.start(), m.end("value") - m.start()
        return m.group(0)[:start] + MARK + m.group(0)[end:]

    def secret_name(self, name: object) -> Rule | None:
        """:meth:`Policy.secret_name`, each name looked up once per document."""
        if not isinstance(name, str):
            return None
        if name not in self._names:
            self._names[name] = self.policy.secret_name(name)
        return self._names[name]

    def _known(self, text: str, where: Where) -> str:
        for value, (scrubber, first) in self.known.items():
            if value not in text:
                continue
            if len(value) >= MIN_KNOWN or (text == value and len(value) >= MIN_EQUAL):
                text = text.replace(value, MARK)
                self.note(where, scrubber, f"known:{first}")
        return text

    def learn(self, strings: list[str], where: str) -> None:
        """Remember the secrets among a process's own argv and environment ``strings`` (read
        from its memory: those the asset tar left out or had already scrubbed), to remove them
        wherever they appear; nothing is recorded until they are found."""
        probe = Scrub(self.policy)
        probe.argv(strings, f"{where}.argv", program="")
        pairs = (s.partition("=") for s in strings if not s.startswith("-"))
        probe.environ({k: v for k, eq, v in pairs if eq and k}, f"{where}.environ")
        for value, (scrubber, origin) in probe.known.items():
            # Index into a region that holds platform names, zeros and both: says nothing.
            self.known.setdefault(value, (scrubber, re.sub(r"\[\d+\]$", "", origin)))

    def adopt(self, records: Iterable[Any], rename: Callable[[str], str]) -> None:
        """Take over the records of an earlier scrubbing (the asset tar's), with their
        ``where`` renamed into this document."""
        for r in records:
            if isinstance(r, dict) and {"where", "scrubber", "rule"} <= r.keys():
                self.note(rename(str(r["where"])), str(r["scrubber"]), str(r["rule"]))

    def record(self) -> dict[str, Any]:
        """The document's privacy record (JSON)."""
        return {
            "policy": self.policy.digest,
            "config": self.policy.source,
            "scrubbers": [s for s in SCRUBBERS if self.policy.on(s)],
            "scrubbed": self.records,
            "more": self.more,
        }
