"""``coroner.cf``: where the object store is and the tokens to talk to it (seed format).

    [universe]
    name = backtrace
    write = https://faults.example.com:6098
    read = faults.example.com:4097
    read.ssl.enabled = true
    [token]
    blackhole = e5f1a3a2…

``write``/``read`` without a scheme use HTTPS when ``<write|read>.ssl.enabled`` is true, and plain
HTTP otherwise; when that key is absent, HTTPS except for loopback hosts. ``<kind>.ssl.ca`` names
a CA bundle. Searched: ``-c FILE``, then :data:`SEARCH`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from coresnap.errors import ConfigError

SEARCH = (Path("/etc/coresnap/coroner.cf"), Path("/usr/local/etc/coroner.cf"))
_UNIVERSE_KEYS = {"name", "write", "read"}


@dataclass
class Endpoint:
    url: str
    verify: bool | str = True


@dataclass
class CoronerConfig:
    """A parsed coroner.cf: the universe's name, its write/read endpoints, named tokens."""

    name: str
    write: Endpoint
    read: Endpoint
    tokens: dict[str, str] = field(default_factory=dict)
    source: str = ""

    def token(self, name: str) -> str:
        """The token called ``name``; raises ConfigError when the file has none."""
        try:
            return self.tokens[name]
        except KeyError:
            known = ", ".join(sorted(self.tokens)) or "none"
            raise ConfigError(
                self.source, f"no token {name!r} in [token] (known: {known})"
            ) from None

    def read_token(self, project: str, name: str | None = None) -> str:
        """The token for queries: ``name``, else the one named like the project, else the first."""
        if name:
            return self.token(name)
        if project in self.tokens or not self.tokens:
            return self.token(project)
        return next(iter(self.tokens.values()))


def parse(text: str, source: str = "coroner.cf") -> CoronerConfig:
    """Parse coroner.cf text; raises ConfigError naming the line of a problem."""
    universe: dict[str, str] = {}
    tokens: dict[str, str] = {}
    section = None
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip().lower()
            if section not in ("universe", "token"):
                raise ConfigError(f"{source}:{n}", f"unknown section [{section}]")
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{source}:{n}", "expected key = value")
        key, value = key.strip(), value.strip()
        # Files written before sections existed (seed 000) put universe keys and tokens bare.
        into = section or ("universe" if key.split(".")[0] in _UNIVERSE_KEYS else "token")
        (universe if into == "universe" else tokens)[key] = value
    for key in ("write", "read"):
        if key not in universe:
            universe[key] = universe.get("read" if key == "write" else "write", "")
        if not universe[key]:
            raise ConfigError(source, "[universe] needs write = URL (and read = URL)")
    return CoronerConfig(
        name=universe.get("name", "coresnap"),
        write=_endpoint(universe, "write", source),
        read=_endpoint(universe, "read", source),
        tokens=tokens,
        source=source,
    )


def _endpoint(universe: dict[str, str], kind: str, source: str) -> Endpoint:
    url = universe[kind].rstrip("/")
    ssl_key = universe.get(f"{kind}.ssl.enabled")
    if ssl_key is not None and ssl_key.lower() not in ("true", "false", "yes", "no", "1", "0"):
        raise ConfigError(source, f"{kind}.ssl.enabled must be true or false")
    if "://" not in url:
        host = url.rsplit(":", 1)[0].strip("[]")
        secure = ssl_key.lower() in ("true", "yes", "1") if ssl_key else not _loopback(host)
        url = ("https://" if secure else "http://") + url
    elif not url.startswith(("http://", "https://")):
        raise ConfigError(source, f"{kind} must be an http(s) URL, not {url!r}")
    ca = universe.get(f"{kind}.ssl.ca")
    return Endpoint(url, ca or True)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load(path: str | Path | None = None) -> CoronerConfig:
    """Read ``path``, else the first of :data:`SEARCH` that exists; raises ConfigError."""
    candidates = [Path(path)] if path else list(SEARCH)
    for p in candidates:
        if p.exists() or path:
            try:
                return parse(p.read_text(), str(p))
            except OSError as e:
                raise ConfigError(str(p), e.strerror or str(e)) from e
    raise ConfigError("coroner", f"no coroner.cf (-c FILE, or {', '.join(map(str, SEARCH))})")
