"""The privacy policy applied to a snapshot on the host, before it is written (docs/privacy.md).

:func:`apply` is the last step of :func:`coresnap.snapshot.build.build_snapshot`, so whatever
the engines and the analysis read from memory is checked: the command line (``argv``), the
environment (``environ``), every variable and struct member of every frame (``variables``),
then every string of the document (``values``, and the values removed so far, wherever they
appear again). The rules are :mod:`coresnap.capture.policy`'s, the ones coresnap-archive
applied to the asset tar; what the tar's scrubbing removed is carried into the record.

The snapshot gets ``privacy``: ``{policy, config, scrubbers, scrubbed: [{where, scrubber,
rule}], more}``; ``where`` is the JSON path of the value (``process.cmdline[1]``,
``threads[0].frames[2].variables[1]``), never the value, which became ``<scrubbed>``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from functools import partial
from typing import Any

from coresnap import config
from coresnap.capture.policy import Policy, load_policy
from coresnap.capture.scrub import MARK, MIN_EQUAL, Scrub
from coresnap.errors import CoresnapError
from coresnap.spool.assets import metadata

__all__ = ["MARK", "apply", "process_strings", "scrubbed_paths"]

# Keys of a variable record that carry what the program held (an address in ``value`` of a
# pointer, one with ``points_to``, is where it was, not what: it stays).
_CONTENT = ("value", "string", "deref", "strings")
_SKIP = frozenset({"privacy"})  # the record itself is not swept
MAX_STRINGS = 1 << 20  # bytes of argv + environ read from the core (ARG_MAX is often 2 MiB)
# A path in the document, spelled (:func:`_spell`) only when something is found there: the
# trail of its container (None at the top), the key or index, whether it is a list index.
Trail = tuple["Trail | None", object, bool]


def apply(
    snap: dict[str, Any],
    assets: dict[str, bytes] | None = None,
    core: Any = None,
    policy: Policy | None = None,
) -> dict[str, Any]:
    """Scrub ``snap`` in place and set its ``privacy`` record (returned).

    ``policy`` defaults to the one of coresnap.conf, found as every host tool finds it (the
    ``CORESNAP_CONF`` coresnapd passes its steps, /etc/coresnap, the packaged default);
    ``assets`` are the crash-time assets, whose own record is carried over; ``core`` (a
    :class:`coresnap.corefile.Core`) gives the process's original argv and environment, whose
    secrets are then removed wherever they appear (a local holding ``getenv("…_KEY")``).

    Raises:
        ConfigError: coresnap.conf or a privacy list cannot be read (no snapshot leaves then).
    """
    if policy is None:
        policy = load_policy(config.load())
    scrub = Scrub(policy)
    if core is not None:
        scrub.learn(process_strings(core), "memory")
    captured = metadata(assets or {}).get("privacy")
    if isinstance(captured, dict) and isinstance(captured.get("scrubbed"), list):
        scrub.adopt(captured["scrubbed"], _from_assets)
    process = snap.get("process")
    if isinstance(process, dict):
        if isinstance(process.get("cmdline"), list):
            process["cmdline"] = scrub.argv([str(a) for a in process["cmdline"]], "process.cmdline")
        if isinstance(process.get("environ"), dict):
            process["environ"] = scrub.environ(process["environ"], "process.environ")
    if policy.on("variables"):
        for at, variable in _variables(snap):
            _variable(scrub, variable, at)
    _sweep(scrub, snap)
    snap["privacy"] = scrub.record()
    return snap["privacy"]


def process_strings(core: Any) -> list[str]:
    """The strings the kernel put at the top of the main stack at exec: argv, then environ.

    fs/exec.c copies the filename (``AT_EXECFN``), the environment and the arguments down from
    the top of the stack; fs/binfmt_elf.c create_elf_tables then puts the platform strings and
    the 16 ``AT_RANDOM`` bytes below them. So [AT_RANDOM + 16, AT_EXECFN) holds the platform
    names, alignment zeros, then every argument and variable, NUL-separated (at most the last
    :data:`MAX_STRINGS` bytes). Empty when the core lacks the auxv or that memory.
    """
    aux = {e.name: e.a_val for e in getattr(core, "auxv", ())}
    top, bottom = aux.get("AT_EXECFN"), aux.get("AT_RANDOM")
    if top is None or bottom is None or not bottom < top:
        return []
    start = max(bottom + 16, top - MAX_STRINGS)
    try:
        raw = core.memory.read(start, top - start)
    except CoresnapError:
        return []
    return [s.decode("utf-8", "surrogateescape") for s in raw.split(b"\0") if s]


def scrubbed_paths(snap: dict[str, Any]) -> set[str]:
    """The ``where`` of every record of ``snap`` (empty for a snapshot without one)."""
    record = snap.get("privacy")
    if not isinstance(record, dict) or not isinstance(record.get("scrubbed"), list):
        return set()
    return {str(r.get("where")) for r in record["scrubbed"] if isinstance(r, dict)}


def _from_assets(where: str) -> str:
    """An asset tar path (``proc/cmdline[1]``, ``proc/environ.NAME``) as a snapshot path."""
    for tar, snapshot in (("proc/cmdline", "process.cmdline"), ("proc/environ", "process.environ")):
        if where.startswith(tar):
            return snapshot + where[len(tar) :]
    return where


def _variables(snap: dict[str, Any]) -> Iterator[tuple[Trail, dict[str, Any]]]:
    for t, thread in enumerate(_dicts(snap.get("threads"))):
        at_thread: Trail = ((None, "threads", False), t, True)
        for f, frame in enumerate(_dicts(thread.get("frames"))):
            at_frame: Trail = ((at_thread, "frames", False), f, True)
            for v, variable in enumerate(_dicts(frame.get("variables"))):
                yield ((at_frame, "variables", False), v, True), variable


def _dicts(items: Any) -> list[dict[str, Any]]:
    # Non-dicts keep their index (paths must match the document), as empty records.
    return [i if isinstance(i, dict) else {} for i in items] if isinstance(items, list) else []


def _variable(scrub: Scrub, variable: dict[str, Any], at: Trail) -> None:
    """A variable named like a secret loses its content; any other, its secret members."""
    rule = scrub.secret_name(variable.get("name"))
    if rule is None:
        for key in ("value", "deref"):
            _members(scrub, variable.get(key), (at, key, False))
        _member_strings(scrub, variable.get("strings"), (at, "strings", False))
        return
    where = _spell(at)
    for key in _CONTENT:
        old = variable.get(key)
        if old is None or old == MARK or (key == "value" and "points_to" in variable):
            continue
        # ``strings`` is {member path: text}: each text goes, the shape stays (the schema's).
        variable[key] = {str(k): MARK for k in old} if isinstance(old, dict) else MARK
        for text in _strings(old):
            scrub.note(where, "variables", rule.label, text)
        scrub.note(where, "variables", rule.label)


def _members(scrub: Scrub, value: Any, at: Trail) -> None:
    """Members named like a secret, at any depth of a struct (or array of structs) value."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            _members(scrub, item, (at, i, True))
    if not isinstance(value, dict):
        return
    for name, member in value.items():
        rule = scrub.secret_name(name)
        if rule is None:
            _members(scrub, member, (at, name, False))
        elif member is not None and member != MARK:
            value[name] = MARK
            where = _spell((at, name, False))
            for text in _strings(member):
                scrub.note(where, "variables", rule.label, text)
            scrub.note(where, "variables", rule.label)


def _member_strings(scrub: Scrub, strings: Any, at: Trail) -> None:
    """The strings of ``char *`` members (by path: ``.user.password``, ``->token``) whose path
    names a secret anywhere: the member itself, or the struct holding it."""
    if not isinstance(strings, dict):
        return
    for path, text in strings.items():
        names = re.split(r"->|\.|\[\d+\]", str(path))
        rule = next(filter(None, map(scrub.secret_name, filter(None, names))), None)
        if rule is not None and text != MARK:
            strings[path] = MARK
            where = f"{_spell(at)}[{json.dumps(path)}]"
            scrub.note(where, "variables", rule.label, str(text))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def _sweep(scrub: Scrub, node: Any, path: Trail | None = None) -> None:
    """Every string below ``node`` through :meth:`Scrub.text` (values, and known secrets).
    A string's path is spelled only if something is found in it: a 65-thread snapshot has
    tens of thousands of strings and containers, and almost none holds a secret. Numbers, the
    most common values, are passed over first (``type(...) is``: no subclass walk)."""
    text, untouched = scrub.text, scrub.untouched
    items: Iterable[tuple[Any, Any]]
    if isinstance(node, dict):
        items, listed = node.items(), False
    elif isinstance(node, list):
        items, listed = enumerate(node), True
    else:
        return
    for key, value in items:
        kind = type(value)
        if kind is int or value is None or kind is bool or kind is float:
            continue
        if kind is str or isinstance(value, str):
            if len(value) >= MIN_EQUAL and not untouched(value):
                node[key] = text(value, partial(_spell, (path, key, listed)))
        elif isinstance(value, (dict, list)) and (listed or path is not None or key not in _SKIP):
            _sweep(scrub, value, (path, key, listed))


def _spell(path: Trail) -> str:
    """``threads[0].frames[2].variables[1]``: a path of :func:`_sweep` as the record says it."""
    steps: list[tuple[object, bool]] = []
    at: Trail | None = path
    while at is not None:
        at, key, item = at
        steps.append((key, item))
    where = ""
    for key, item in reversed(steps):
        where = f"{where}[{key}]" if item else f"{where}.{key}" if where else str(key)
    return where
