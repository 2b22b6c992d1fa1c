"""The ``attributes`` of a snapshot: flat key/value facts the object store indexes and groups by.

Built-in keys: ``application`` (executable base name), ``hostname``, ``uname.sysname``,
``uname.release``, ``uname.machine``, ``signal``, ``process.pid``; then every ``--kv`` pair,
which wins over a built-in key of the same name.
"""

from __future__ import annotations

import os
from typing import Any

from coresnap.errors import ConfigError


def parse_kv(text: str | None) -> dict[str, str]:
    """``k:v,k:v`` (the seed's ``--kv``) as a dict.

    Raises:
        ConfigError: a pair without ``:`` or with an empty key.
    """
    pairs: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition(":")
        if not sep or not key.strip():
            raise ConfigError("--kv", f"{item!r} is not key:value")
        pairs[key.strip()] = value.strip()
    return pairs


def attributes(snap: dict[str, Any], kv: dict[str, str]) -> dict[str, str | int | float]:
    """The snapshot's attributes from its process, system and signal sections plus ``kv``."""
    out: dict[str, str | int | float] = {}
    process, system = snap["process"], snap["system"]
    exe = process.get("exe") or process.get("name")
    if exe:
        out["application"] = os.path.basename(exe)
    if system.get("hostname"):
        out["hostname"] = system["hostname"]
    for key in ("sysname", "release", "machine"):
        value = (system.get("kernel") or {}).get(key)
        if value:
            out[f"uname.{key}"] = value
    if snap.get("signal"):
        out["signal"] = snap["signal"]["name"]
    if process.get("pid") is not None:
        out["process.pid"] = process["pid"]
    out.update(kv)
    return out
