"""coronerd's settings: one declared table, read from a TOML file (``coronerd.toml``).

Every setting is a :class:`Setting` in :data:`SETTINGS` (section, key, type, default, doc); the
table is the only place a setting exists, ``docs/store.md`` documents each one (a test checks),
and :func:`template` writes the commented file ``coronerd init`` creates.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coresnap.errors import ConfigError


@dataclass(frozen=True)
class Setting:
    section: str
    key: str
    type: type
    default: Any
    doc: str

    @property
    def name(self) -> str:
        return f"{self.section}.{self.key}"


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "database",
        "url",
        str,
        "sqlite:///coronerd.db",
        "SQLAlchemy URL: sqlite:///PATH (WAL) or postgresql+psycopg://USER:PW@HOST/DB; "
        "a relative SQLite path is relative to the config file",
    ),
    Setting("blobs", "kind", str, "local", "where snapshots are kept: local or s3"),
    Setting("blobs", "path", str, "blobs", "local blob directory (relative to the config file)"),
    Setting("blobs", "s3_endpoint", str, "", "S3 endpoint URL (empty: AWS default)"),
    Setting("blobs", "s3_bucket", str, "coresnap", "S3 bucket (created when missing)"),
    Setting("blobs", "s3_region", str, "us-east-1", "S3 region"),
    Setting("blobs", "s3_access_key", str, "", "S3 access key id"),
    Setting("blobs", "s3_secret_key", str, "", "S3 secret access key"),
    Setting(
        "limits", "max_body", int, 16 << 20, "largest accepted request body, bytes (413 above)"
    ),
    Setting(
        "limits",
        "max_snapshot",
        int,
        16 << 20,
        "largest decompressed snapshot, bytes (413 above: stops zstd bombs)",
    ),
    Setting(
        "limits",
        "decompress_budget",
        int,
        24 << 20,
        "decompressed bytes all uploads in progress may hold together (others wait, then 503)",
    ),
    Setting("limits", "max_attachment", int, 16 << 20, "largest attachment, bytes"),
    Setting(
        "limits",
        "timestamp_past",
        int,
        10 * 365 * 86400,
        "seconds before the server's clock a snapshot's timestamp may be (else the upload is "
        "dated by the server, the original kept as attribute timestamp.original)",
    ),
    Setting(
        "limits",
        "timestamp_future",
        int,
        86400,
        "seconds after the server's clock a snapshot's timestamp may be (same treatment)",
    ),
    Setting(
        "limits",
        "max_debug_file",
        int,
        256 << 20,
        "largest debug file (coroner symbols upload), bytes (413 above)",
    ),
    Setting(
        "limits",
        "statement_timeout",
        int,
        10,
        "seconds a query statement may run before it is stopped (503 query-timeout; 0: none)",
    ),
    Setting(
        "limits",
        "concurrent_queries",
        int,
        2,
        "queries (API query, attributes, summary; console project and group pages) this "
        "process runs at once; one finding no slot free within `limits.query_wait` is "
        "answered 503 busy with Retry-After, so that slow queries cannot take the connections "
        "uploads need (0: no bound; keep it under the PostgreSQL pool of 12)",
    ),
    Setting(
        "limits",
        "query_wait",
        float,
        5.0,
        "seconds a query waits for a free slot (in the event loop: no thread, no connection) "
        "before 503 busy; long enough for a few people opening pages at once",
    ),
    Setting("sampling", "first", int, 2, "blobs always kept per group and period"),
    Setting("sampling", "per_minute", int, 4, "after `first`: blobs kept per group per minute"),
    Setting("sampling", "per_hour", int, 8, "after `first`: blobs kept per group per hour"),
    Setting("sampling", "period", int, 86400, "seconds after which a group's sampling resets"),
    Setting(
        "retention", "max_age", int, 0, "delete objects older than this many seconds (0: keep)"
    ),
    Setting(
        "retention", "max_objects", int, 0, "keep at most this many objects per project (0: all)"
    ),
    Setting("server", "host", str, "127.0.0.1", "address coronerd listens on"),
    Setting("server", "port", int, 6098, "port coronerd listens on"),
    Setting(
        "server",
        "docs",
        bool,
        False,
        "serve Swagger UI at /docs and ReDoc at /redoc (they load their scripts from a CDN; "
        "/openapi.json is always served)",
    ),
    Setting(
        "metrics",
        "listen",
        str,
        "",
        "host:port where coronerd serves /metrics on a listener of its own (e.g. "
        "127.0.0.1:9464; no token asked there); the main port's /metrics then answers 404 "
        "(empty: /metrics on the main port)",
    ),
    Setting(
        "metrics",
        "token",
        str,
        "",
        "bearer token /metrics on the main port requires (empty: /metrics answers loopback "
        "clients only)",
    ),
    Setting(
        "console",
        "url",
        str,
        "",
        "base URL of the web console in alert links (empty: http://server.host:server.port)",
    ),
    Setting("alerting", "timeout", int, 10, "seconds one alert delivery may take"),
    Setting("alerting", "max_attempts", int, 10, "attempts before a delivery is failed"),
    Setting("alerting", "retry_base", int, 30, "seconds before the first retry (then doubled)"),
    Setting("alerting", "retry_max", int, 3600, "longest wait between two attempts, seconds"),
    Setting(
        "alerting",
        "keep_days",
        int,
        30,
        "days sent and failed deliveries stay in the outbox's history (0: forever)",
    ),
)
# The array of tables ``[[alerts]]`` (alert targets) is not a fixed key: load() keeps it raw
# in StoreConfig.alerts and coresnap.store.alerts.targets checks it (docs/alerts.md).
ALERTS = "alerts"


@dataclass
class StoreConfig:
    """The resolved settings (``values`` keyed by ``section.key``) and the file they came from."""

    values: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None
    alerts: list[Any] = field(default_factory=list)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def path(self, name: str) -> Path:
        """A path setting, made absolute against the config file's directory."""
        p = Path(self.values[name])
        base = self.source.parent if self.source else Path.cwd()
        return p if p.is_absolute() else base / p

    @property
    def database_url(self) -> str:
        url = str(self.values["database.url"])
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix:
            base = self.source.parent if self.source else Path.cwd()
            return prefix + str(base / url[len(prefix) :])
        return url


def defaults() -> StoreConfig:
    """The settings with every default."""
    return StoreConfig({s.name: s.default for s in SETTINGS})


def load(path: Path, overrides: dict[str, Any] | None = None) -> StoreConfig:
    """Read ``path`` (TOML), apply ``overrides`` (``section.key`` → value) and check types.

    Raises ConfigError for an unreadable file, an unknown setting or a value of the wrong type.
    """
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(str(path), str(e)) from e
    config = defaults()
    config.source = path.resolve()
    alerts = data.pop(ALERTS, [])
    if not isinstance(alerts, list):
        raise ConfigError(str(path), f"{ALERTS} must be an array of tables ([[{ALERTS}]])")
    config.alerts = alerts
    known = {s.name: s for s in SETTINGS}
    flat = {f"{sec}.{k}": v for sec, table in data.items() for k, v in _table(path, sec, table)}
    flat.update(overrides or {})
    for name, value in flat.items():
        setting = known.get(name)
        if setting is None:
            raise ConfigError(str(path), f"unknown setting {name}")
        if setting.type is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)  # TOML's 5 for a number of seconds
        if not isinstance(value, setting.type) or (
            isinstance(value, bool) and setting.type is not bool
        ):
            raise ConfigError(str(path), f"{name} must be {setting.type.__name__}")
        config.values[name] = value
    return config


def _table(path: Path, section: str, table: object) -> list[tuple[str, object]]:
    if not isinstance(table, dict):
        raise ConfigError(str(path), f"{section} must be a table")
    return list(table.items())


def template(values: dict[str, Any] | None = None) -> str:
    """The text of a complete config file, every setting commented with its doc."""
    values = values or {}
    lines = ["# coronerd configuration (see docs/store.md)."]
    section = ""
    for s in SETTINGS:
        if s.section != section:
            section = s.section
            lines += ["", f"[{section}]"]
        value = values.get(s.name, s.default)
        lines += [f"# {s.doc}", f"{s.key} = {_toml(value)}"]
    return "\n".join(lines) + "\n"


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)
