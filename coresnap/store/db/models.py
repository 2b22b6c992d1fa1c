"""The store's tables (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Objects keep the attributes every query touches as columns (timestamp, application, hostname,
group, fingerprint) with composite indexes that lead with the project; every attribute, those
included, is also a row of ``attributes`` (one row per value: classification labels are several
rows) indexed on (key, value_text) and (key, value_num) so any attribute filters in the database.
Times are epoch seconds as floats, so time buckets are plain arithmetic on both databases.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

metadata = MetaData()

# SQLite only makes INTEGER PRIMARY KEY an alias of the rowid (autoincrementing).
Id = BigInteger().with_variant(Integer(), "sqlite")

# Longest attribute value kept (longer ones are cut): bounds index size and regex work.
MAX_VALUE = 1024

projects = Table(
    "projects",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("created", Float, nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Id, primary_key=True),
    Column("project_id", Id, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("prefix", String(16), nullable=False, index=True),
    Column("hash", String(64), nullable=False),
    Column("scopes", String(64), nullable=False),
    Column("created", Float, nullable=False),
    UniqueConstraint("project_id", "name", name="uq_tokens_project_name"),
)

groups = Table(
    "groups",
    metadata,
    Column("id", Id, primary_key=True),
    Column("project_id", Id, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("fingerprint", String(128), nullable=False),
    Column("merged_into", Id, ForeignKey("groups.id"), nullable=True),
    Column("first_seen", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("count", Integer, nullable=False, default=0),
    Column("state", String(16), nullable=False, default="open"),
    Column("state_by", String(128), nullable=True),
    Column("state_at", Float, nullable=True),
    Column("resolved_version", String(128), nullable=True),
    Column("frames", Text, nullable=True),
    Column("sample_period", Float, nullable=False, default=0.0),
    Column("sample_kept", Integer, nullable=False, default=0),
    Column("sample_minute", Integer, nullable=False, default=0),
    Column("sample_minute_kept", Integer, nullable=False, default=0),
    Column("sample_hour", Integer, nullable=False, default=0),
    Column("sample_hour_kept", Integer, nullable=False, default=0),
    # A person split this fingerprint off (unmerge): aliases never merge it again (0004).
    Column("pinned", Boolean, nullable=False, default=False, server_default=false()),
    UniqueConstraint("project_id", "fingerprint", name="uq_groups_project_fingerprint"),
    Index("ix_groups_project_last_seen", "project_id", "last_seen"),
)

objects = Table(
    "objects",
    metadata,
    Column("id", Id, primary_key=True),
    Column("project_id", Id, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("oid", String(32), nullable=False),
    Column("group_id", Id, ForeignKey("groups.id"), nullable=False),
    Column("fingerprint", String(128), nullable=False),
    Column("timestamp", Float, nullable=False),
    Column("received", Float, nullable=False),
    Column("application", String(MAX_VALUE), nullable=True),
    Column("hostname", String(MAX_VALUE), nullable=True),
    Column("classification", String(MAX_VALUE), nullable=True),
    Column("version", String(128), nullable=True),
    Column("size", Integer, nullable=False),
    Column("blob_key", String(256), nullable=True),
    Column("blob_kept", Boolean, nullable=False),
    # The fingerprint version that made ``fingerprint`` (NULL: the client's, before 0004) and
    # what learned symbols filled in before it was computed (JSON, see store/symbols.py).
    Column("fp_version", Integer, nullable=True),
    Column("learned", Text, nullable=True),
    UniqueConstraint("project_id", "oid", name="uq_objects_project_oid"),
    Index("ix_objects_project_timestamp", "project_id", "timestamp"),
    Index("ix_objects_project_group_timestamp", "project_id", "group_id", "timestamp"),
    Index("ix_objects_project_application", "project_id", "application"),
    Index("ix_objects_project_hostname", "project_id", "hostname"),
    Index("ix_objects_project_received", "project_id", "received"),
    Index("ix_objects_fingerprint", "project_id", "fingerprint"),
    # The console's breakdowns (migration 0003).
    Index("ix_objects_project_version", "project_id", "version"),
    Index("ix_objects_project_classification", "project_id", "classification"),
    Index("ix_objects_project_group_hostname", "project_id", "group_id", "hostname"),
)

attributes = Table(
    "attributes",
    metadata,
    Column("object_id", Id, ForeignKey("objects.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(128), nullable=False),
    Column("value_text", String(MAX_VALUE), nullable=True),
    Column("value_num", Float, nullable=True),
    Index("ix_attributes_object_key", "object_id", "key"),
    Index("ix_attributes_key_text", "key", "value_text"),
    Index("ix_attributes_key_num", "key", "value_num"),
)

attachments = Table(
    "attachments",
    metadata,
    Column("id", Id, primary_key=True),
    Column("object_id", Id, ForeignKey("objects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(128), nullable=False),
    Column("content_type", String(128), nullable=False),
    Column("size", Integer, nullable=False),
    Column("blob_key", String(256), nullable=False),
    UniqueConstraint("object_id", "name", name="uq_attachments_object_name"),
)

# --- the console and alerts (migration 0002) ---

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("password_hash", String(256), nullable=False),
    Column("admin", Boolean, nullable=False, default=False),
    Column("created", Float, nullable=False),
)

# Which projects a (non-admin) user may see and change.
user_projects = Table(
    "user_projects",
    metadata,
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("project_id", Id, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
)

# Console sessions: the cookie carries a random token, the table its SHA-256.
sessions = Table(
    "sessions",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created", Float, nullable=False),
    Column("expires", Float, nullable=False),
)

# The sign-in throttle (migration 0006): one row per failed sign-in under each key it counts
# against ("pair", "address", "name", "device" + what), and the device cookies (SHA-256) of
# browsers that signed in as a user (store/console/throttle.py).
signin_failures = Table(
    "signin_failures",
    metadata,
    Column("id", Id, primary_key=True),
    Column("key", String(200), nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_signin_failures_key_at", "key", "at"),
    Index("ix_signin_failures_at", "at"),
)

signin_devices = Table(
    "signin_devices",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created", Float, nullable=False),
    Column("expires", Float, nullable=False),
    Index("ix_signin_devices_user", "user_id", "created"),
)

# Who changed a group's state, when, and how (resolve / mute / reopen / merge / unmerge / jira).
group_events = Table(
    "group_events",
    metadata,
    Column("id", Id, primary_key=True),
    Column("group_id", Id, ForeignKey("groups.id", ondelete="CASCADE"), nullable=False),
    Column("at", Float, nullable=False),
    Column("by", String(128), nullable=True),
    Column("action", String(32), nullable=False),
    Column("detail", Text, nullable=True),
    Index("ix_group_events_group_at", "group_id", "at"),
)

# The issue a JIRA alert target opened for a group (one per group and target).
group_tickets = Table(
    "group_tickets",
    metadata,
    Column("group_id", Id, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("target_id", Id, ForeignKey("alert_targets.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(64), nullable=False),
    Column("url", String(512), nullable=True),
    Column("created", Float, nullable=False),
)

# Alert targets per project: kind slack | jira | webhook | email; settings as JSON text;
# events a comma list of new-group, regression, threshold; filter in the query language.
alert_targets = Table(
    "alert_targets",
    metadata,
    Column("id", Id, primary_key=True),
    Column("project_id", Id, ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("settings", Text, nullable=False),
    Column("events", String(128), nullable=False),
    Column("filter", Text, nullable=True),
    Column("threshold_count", Integer, nullable=True),
    Column("threshold_period", Float, nullable=True),
    Column("min_interval", Float, nullable=False, default=0.0),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created", Float, nullable=False),
    UniqueConstraint("project_id", "name", name="uq_alert_targets_project_name"),
)

# The outbox: one row per message to send; a sender thread delivers with retries and backoff
# (state pending → sent | failed), so ingest only inserts rows and never waits on a receiver.
alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", Id, primary_key=True),
    Column("target_id", Id, ForeignKey("alert_targets.id", ondelete="CASCADE"), nullable=False),
    Column("group_id", Id, ForeignKey("groups.id", ondelete="CASCADE"), nullable=True),
    Column("event", String(32), nullable=False),
    Column("payload", Text, nullable=False),
    Column("state", String(16), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt", Float, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created", Float, nullable=False),
    Column("sent_at", Float, nullable=True),
    Index("ix_alert_deliveries_state_next", "state", "next_attempt"),
    Index("ix_alert_deliveries_target_group", "target_id", "group_id", "created"),
)

# --- grouping v2: aliases and learned symbols (migration 0004) ---

# Other keys of the same crash (fingerprint ``aliases``, e.g. the blamed pc by address): an
# object whose primary key has no group joins the group its alias names. group_id is the row of
# the fingerprint that brought the alias (follow its merged_into); at most
# aliases.MAX_PER_GROUP rows per group row.
group_aliases = Table(
    "group_aliases",
    metadata,
    Column("project_id", Id, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("alias", String(128), primary_key=True),
    Column("group_id", Id, ForeignKey("groups.id", ondelete="CASCADE"), nullable=False),
    # The blamed function's name where it had one: an alias never joins a crash blamed on
    # another function (the same pc offset in another build of the program is other code).
    Column("blamed", String(512), nullable=True),
    Column("created", Float, nullable=False),
    Index("ix_group_aliases_group", "group_id"),
)

# Symbols learned from symbolised snapshots, per project and build id (store/symbols.py has
# the bounds): one row per build with its fact counts, then its functions and exact pcs.
learned_builds = Table(
    "learned_builds",
    metadata,
    Column("project_id", Id, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("build_id", String(128), primary_key=True),
    Column("functions", Integer, nullable=False, default=0),
    Column("pcs", Integer, nullable=False, default=0),
    Column("learned", Float, nullable=False),
    Index("ix_learned_builds_project_learned", "project_id", "learned"),
)


def _of_build() -> ForeignKeyConstraint:
    """A learned fact belongs to its build's row: evicting the build deletes its facts."""
    return ForeignKeyConstraint(
        ["project_id", "build_id"],
        ["learned_builds.project_id", "learned_builds.build_id"],
        ondelete="CASCADE",
    )


# (build id, function start) -> the function's name, as the symbolised snapshot spelled it.
learned_functions = Table(
    "learned_functions",
    metadata,
    Column("project_id", Id, primary_key=True),
    Column("build_id", String(128), primary_key=True),
    Column("function_start", BigInteger, primary_key=True),
    Column("name", String(512), nullable=False),
    _of_build(),
)

# (build id, module offset of a pc) -> the frames at that pc (inline ones first) as JSON:
# function, function_offset, file, line, column, inline.
learned_pcs = Table(
    "learned_pcs",
    metadata,
    Column("project_id", Id, primary_key=True),
    Column("build_id", String(128), primary_key=True),
    Column("module_offset", BigInteger, primary_key=True),
    Column("frames", Text, nullable=False),
    _of_build(),
)

# --- debug files (migration 0005) ---

# ELF debug files uploaded per project and build id (store/debugfiles.py): an unstripped
# executable or a separate .debug file, its bytes in the blob store under ``blob_key``.
debug_files = Table(
    "debug_files",
    metadata,
    Column("project_id", Id, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("build_id", String(128), primary_key=True),
    Column("name", String(256), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("uploaded", Float, nullable=False),
    Column("blob_key", String(512), nullable=False),
)
