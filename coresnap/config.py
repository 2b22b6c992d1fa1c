"""The one declared table of coresnap.conf settings, and the only module that reads it.

coresnap.conf is the seeds' format: ``name = value`` lines, ``#`` comments, blank lines ignored.
Files are searched in :data:`SEARCH_PATH` order and the first one found wins as a whole (the
packaged default is complete, so a site copy starts from it). ``CORESNAP_CONF`` or an explicit
path (``-c``) replaces the search. Settings missing from the chosen file take their declared
default. Numbered settings (``format.1``, ``format.2``, ...) are declared once as ``format.N``.

Stdlib only: the kernel's pipe handler (``coresnap-archive``) imports this module.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from coresnap.errors import ConfigError

PACKAGED = Path(__file__).parent / "data" / "coresnap.conf"
SEARCH_PATH = (
    Path("/etc/coresnap/coresnap.conf"),
    Path("/usr/local/etc/coresnap/coresnap.conf"),
    PACKAGED,
)
ENV_VAR = "CORESNAP_CONF"

_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _size(text: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?", text.strip().lower())
    if not m:
        raise ValueError(f"not a size (e.g. 512k, 2G): {text!r}")
    return int(float(m.group(1)) * _SIZE_UNITS[m.group(2)])


def _duration(text: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhdw]?)", text.strip().lower())
    if not m:
        raise ValueError(f"not a duration (e.g. 30s, 7d): {text!r}")
    return float(m.group(1)) * _DURATION_UNITS[m.group(2)]


def _mode(text: str) -> int:
    return int(text, 8)


def _percent(text: str) -> float:
    value = float(text.strip().rstrip("%"))
    if not 0 <= value < 100:
        raise ValueError(f"not a percentage in [0, 100): {text!r}")
    return value


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _rate(text: str) -> tuple[int, float]:
    """``N/duration`` (at most N per window); ``0`` turns the limit off."""
    if text.strip() == "0":
        return (0, 0.0)
    count, _, window = text.partition("/")
    return (int(count), _duration(window or "1m"))


def address(text: str, any_host: str | None = "0.0.0.0") -> tuple[str, int] | None:
    """``host:port`` (``[v6]:port`` for IPv6); empty turns the listener off. A missing host
    is ``any_host`` (None: refused). Raises ValueError."""
    text = text.strip()
    if not text:
        return None
    host, sep, port = text.rpartition(":")
    host = host.strip("[]") or (any_host or "")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"not host:port (e.g. 127.0.0.1:9113): {text!r}")
    return host, int(port)


# The scrubbers of the privacy policy (coresnap/capture/scrub.py, docs/privacy.md).
PRIVACY_SCRUBBERS = ("argv", "environ", "variables", "values")


def _scrubbers(text: str) -> tuple[str, ...]:
    names = _names(text)
    unknown = [n for n in names if n not in PRIVACY_SCRUBBERS]
    if unknown:
        raise ValueError(
            f"unknown scrubber {unknown[0]!r} (not one of {', '.join(PRIVACY_SCRUBBERS)})"
        )
    return names


def _regex(text: str) -> str:
    try:
        re.compile(text)
    except re.error as e:
        raise ValueError(f"bad regex {text!r}: {e}") from None
    return text


def _flag(text: str) -> str:
    """``<program regex> <option>``: the option's value is a secret for those programs."""
    program, _, option = text.strip().rpartition(" ")
    if not program.strip() or not option.startswith("-"):
        raise ValueError(f"expected '<program regex> -option', got {text!r}")
    _regex(program.strip())
    return text.strip()


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in allowed:
            raise ValueError(f"{text!r} is not one of {', '.join(allowed)}")
        return text

    return parse


class Setting(NamedTuple):
    """One declared setting: its name, parser, default (as written in the file) and doc; a
    numbered setting (``.N``) shows ``example`` in the generated coresnap.conf."""

    name: str
    parse: Callable[[str], Any]
    default: str
    doc: str
    example: str = ""


SETTINGS: tuple[Setting, ...] = (
    Setting("dump.root", str, "/var/coresnap/archive",
            "Directory holding the stages (staging, pending, sending, committed, failed, assets)."),
    Setting("dump.user", str, "coresnap",
            "Owner of archived dumps and assets (falls back to root, with a log line, if unknown)."),
    Setting("dump.group", str, "coresnap", "Group of archived dumps and assets."),
    Setting("dump.mode", _mode, "0640", "Permission bits (octal) of archived dumps and assets."),
    Setting("dump.quota", _percent, "10",
            "Minimum free share (percent) of the dump.root file system; the archive tool stops, "
            "unlinks and counts the drop rather than go below it (checked before and while writing)."),
    Setting("dump.max_size", _size, "2G",
            "Largest core kept; a bigger one is truncated there and marked truncated (as %c does)."),
    Setting("dump.max_pending", int, "256",
            "Crash-storm brake: with this many cores already pending, a new one is dropped and "
            "counted (0: no limit)."),
    Setting("dump.keep", _choice("full", "minicore", "none"), "minicore",
            "What coresnap-archive keeps of a core: full (all of it, sparse), minicore (the notes "
            "and the memory a snapshot reads: stacks, module data, the heap's chunk headers, what "
            "registers and stack words point to; docs/pipeline.md) or none (the notes only: "
            "threads and registers, no memory)."),
    Setting("dump.minicore_above", _size, "64M",
            "With dump.keep = minicore, a core whose dumped memory is at most this size is kept "
            "whole (a small core costs little, and gdb sees all of it)."),
    Setting("dump.minicore_budget", _size, "32M",
            "With dump.keep = minicore, the most memory kept around pointers, beyond the stacks "
            "and module data; windows past it are left out (counted in the asset metadata)."),
    Setting("dump.environ", _names,
            "PATH,HOME,USER,LOGNAME,SHELL,PWD,LANG,LC_*,TZ,TERM,HOSTNAME,LD_PRELOAD,"
            "LD_LIBRARY_PATH,LD_BIND_NOW,MALLOC_*,GLIBC_TUNABLES,DEBUGINFOD_URLS",
            "Allow-list (comma-separated, shell wildcards) of environment variables copied from "
            "/proc/<pid>/environ into the assets; everything else is left out."),
    Setting("capture.socket", str, "",
            "Path of the kernel's coredump socket (Linux 6.16+): coresnapd listens there and "
            "coresnap install --socket points core_pattern at it (@@, request mode); empty: "
            "no socket (unless systemd passes one: coresnapd.socket)."),
    Setting("log.file", str, "",
            "Also append log lines to this file (syslog is always used when /dev/log exists)."),
    Setting("daemon.workers", int, "2", "Dumps coresnapd processes at the same time."),
    Setting("snapshot.command", str,
            "coresnap snapshot %c -o %S --resource %a --kv coresnap.object:%B --isolate",
            "Command making the snapshot %S of core %c (see docs/pipeline.md for the % fields)."),
    Setting("snapshot.timeout", _duration, "300s", "Wall-clock limit of one snapshot command."),
    Setting("snapshot.memory", _size, "4G", "Address-space limit (RLIMIT_AS) of the snapshot command."),
    Setting("snapshot.retries", int, "2", "Extra attempts before a dump goes to failed/."),
    Setting("snapshot.warm", _choice("yes", "no"), "yes",
            "coresnapd runs the built-in snapshot command (coresnap snapshot ...) in a warm "
            "worker: one process with everything imported, forked per dump with the limits and "
            "isolation of --isolate (docs/pipeline.md); no: a new process per dump."),
    Setting("put.command", str, "coroner -c %C put %p %T %S",
            "Command sending snapshot %S to the object store."),
    Setting("put.timeout", _duration, "120s", "Wall-clock limit of one put command."),
    Setting("put.retries", int, "0",
            "Extra put attempts before a snapshot goes to failed/ (0: retry for ever; snapshots "
            "wait safely in sending/ while the store is unreachable)."),
    Setting("retry.backoff", _duration, "2s", "First delay before a retry; doubles each time."),
    Setting("retry.backoff_max", _duration, "300s", "Longest delay between retries."),
    Setting("coroner.config", str, "/usr/local/etc/coroner.cf",
            "The store client's configuration file (%C)."),
    Setting("defaults.project", str, "blackhole", "Project (%p) when no format rule matches."),
    Setting("defaults.token", str, "blackhole", "Token name (%T) used with the project."),
    Setting("defaults.command", str, "",
            "Arguments appended to every snapshot command, typically attributes "
            "(e.g. --kv datacenter:ams1)."),
    Setting("format.N", str, "",
            "Routing rule `<project> <format> /<regex>/`: a dump whose expanded <format> (e.g. "
            "%e) matches <regex> goes to <project>; rules are tried in order of N.",
            "crashtest %e /^crash/"),
    Setting("retention.core", _choice("purge", "keep", "compress"), "purge",
            "After its snapshot: purge the core, keep it in committed/, or keep it zstd-compressed."),
    Setting("retention.keep_per_exe", int, "0",
            "Keep the cores of the first N dumps of each executable even when purging (0: none)."),
    Setting("retention.keep_per_fingerprint", int, "0",
            "Keep the cores of the first N dumps of each fingerprint even when purging (0: none)."),
    Setting("purge.age", _duration, "7d",
            "Committed snapshots, kept cores and failed dumps older than this are removed."),
    Setting("purge.total", _size, "0",
            "Cap on the bytes kept in committed/ and failed/ (oldest removed first; 0: no cap)."),
    Setting("ratelimit.exe", _rate, "30/1m",
            "At most N dumps of one executable per window (N/window); extra ones are dropped "
            "and counted (0: off)."),
    Setting("ratelimit.fingerprint", _rate, "10/1m",
            "At most N snapshots of one fingerprint per window are sent; extra ones are dropped "
            "and counted (0: off)."),
    Setting("metrics.listen", address, "127.0.0.1:9113",
            "Address (host:port) where coresnapd serves Prometheus metrics at /metrics "
            "(see docs/pipeline.md); empty: no metrics server."),
    Setting("privacy.scrub", _scrubbers, ",".join(PRIVACY_SCRUBBERS),
            "Scrubbers removing secrets on the host, before an asset tar or a snapshot is "
            "written (docs/privacy.md): argv (options named like a secret, flags.txt), environ "
            "(variables named like a secret), variables (program variables and members named "
            "like a secret), values (secret formats and key=value pairs in every string). Leave "
            "one out to turn it off; empty: none."),
    Setting("privacy.keep", _names, "",
            "Names (comma-separated, shell wildcards) never scrubbed for their name, e.g. a "
            "program variable called key that holds a hash key (values are still checked)."),
    Setting("privacy.lists", _names, "",
            "Directories of extra privacy lists (names.txt, values.txt, pairs.txt, flags.txt, "
            "in the format of coresnap/data/privacy/), added to the shipped ones."),
    Setting("privacy.names.N", _regex, "",
            "An extra secret-name regex (names.txt: searched in the name as _lowercase_words_).",
            "^_acme_"),
    Setting("privacy.values.N", _regex, "",
            "An extra secret-value regex (values.txt: searched in every string; with a group, "
            "only the group is removed).", r"\bacme_[0-9a-f]{32}\b"),
    Setting("privacy.flags.N", _flag, "",
            "An extra secret option, `<program regex> <option>` (flags.txt): its value is the "
            "next argument or what follows the option in the same one.", "acme-cli -k"),
)  # fmt: skip
_BY_NAME = {s.name: s for s in SETTINGS}


def _declared(name: str) -> Setting | None:
    if name in _BY_NAME:
        return _BY_NAME[name]
    prefix, _, index = name.rpartition(".")
    return _BY_NAME.get(f"{prefix}.N") if index.isdigit() else None


class Config(Mapping[str, Any]):
    """Parsed settings: ``config["dump.root"]``; :meth:`numbered` for ``format.N`` rules."""

    def __init__(self, values: dict[str, str], source: str) -> None:
        self.source = source
        self._raw = dict(values)
        self._parsed: dict[str, Any] = {}
        for name, text in self._raw.items():
            setting = _declared(name)
            if setting is None:
                raise ConfigError(source, f"unknown setting {name!r}")
            try:
                self._parsed[name] = setting.parse(text)
            except ValueError as e:
                raise ConfigError(source, f"{name}: {e}") from None
        for setting in SETTINGS:
            if setting.name not in self._parsed and not setting.name.endswith(".N"):
                self._parsed[setting.name] = setting.parse(setting.default)

    def __getitem__(self, name: str) -> Any:
        return self._parsed[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._parsed)

    def __len__(self) -> int:
        return len(self._parsed)

    def numbered(self, prefix: str) -> list[str]:
        """Values of ``prefix.1``, ``prefix.2``, ... in numeric order."""
        found = [(int(k.rpartition(".")[2]), v) for k, v in self._parsed.items()
                 if k.rpartition(".")[0] == prefix and k.rpartition(".")[2].isdigit()]  # fmt: skip
        return [v for _, v in sorted(found)]

    def replace(self, values: Mapping[str, str]) -> Config:
        """A copy with some settings replaced by text values (``{"dump.root": "/x"}``)."""
        return Config({**self._raw, **values}, self.source)


def parse_text(text: str, source: str) -> Config:
    """Parse coresnap.conf text. Raises ConfigError(source:line, what) on a bad line or value."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, eq, value = line.partition("=")
        if not eq:
            raise ConfigError(f"{source}:{number}", f"expected 'name = value', got {line!r}")
        values[name.strip()] = value.strip()
    return Config(values, source)


def find(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The file to read: ``explicit``, else ``$CORESNAP_CONF``, else the first of SEARCH_PATH."""
    if explicit:
        return Path(explicit)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    for path in SEARCH_PATH:
        if path.is_file():
            return path
    return PACKAGED


def load(explicit: str | os.PathLike[str] | None = None) -> Config:
    """Find and parse coresnap.conf. Raises ConfigError if it is unreadable or invalid."""
    path = find(explicit)
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(str(path), e.strerror or str(e)) from None
    return parse_text(text, str(path))


def render_conf() -> str:
    """The packaged default coresnap.conf, generated from :data:`SETTINGS` (a test checks it)."""
    lines = ["# coresnap.conf: generated from coresnap/config.py; see docs/configuration.md.",
             "# Copy to /etc/coresnap/coresnap.conf or /usr/local/etc/coresnap/coresnap.conf",
             "# to change it; the first file found is used as a whole.", ""]  # fmt: skip
    for s in SETTINGS:
        lines.append(f"# {s.doc}")
        if s.name.endswith(".N"):
            lines.append(f"#{s.name.replace('.N', '.1')} = {s.example}")
        else:
            lines.append(f"{s.name} = {s.default}")
        lines.append("")
    return "\n".join(lines)


def render_markdown() -> str:
    """The settings table of docs/configuration.md, generated from :data:`SETTINGS`."""
    rows = ["| setting | default | meaning |", "| --- | --- | --- |"]
    for s in SETTINGS:
        default = f"`{s.default}`" if s.default else "(empty)"
        rows.append(f"| `{s.name}` | {default} | {s.doc.replace('|', '/')} |")
    return "\n".join(rows) + "\n"
