"""console users and sessions, group events and tickets, alert targets and deliveries

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", Id, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("admin", sa.Boolean(), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "user_projects",
        sa.Column("user_id", Id, nullable=False),
        sa.Column("project_id", Id, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "project_id"),
    )
    op.create_table(
        "sessions",
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("expires", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("hash"),
    )
    op.create_table(
        "group_events",
        sa.Column("id", Id, nullable=False),
        sa.Column("group_id", Id, nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("by", sa.String(128), nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_group_events_group_at", "group_events", ["group_id", "at"])
    op.create_table(
        "alert_targets",
        sa.Column("id", Id, nullable=False),
        sa.Column("project_id", Id, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("events", sa.String(128), nullable=False),
        sa.Column("filter", sa.Text(), nullable=True),
        sa.Column("threshold_count", sa.Integer(), nullable=True),
        sa.Column("threshold_period", sa.Float(), nullable=True),
        sa.Column("min_interval", sa.Float(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "name", name="uq_alert_targets_project_name"),
    )
    op.create_table(
        "group_tickets",
        sa.Column("group_id", Id, nullable=False),
        sa.Column("target_id", Id, nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("url", sa.String(512), nullable=True),
        sa.Column("created", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["target_id"], ["alert_targets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("group_id", "target_id"),
    )
    op.create_table(
        "alert_deliveries",
        sa.Column("id", Id, nullable=False),
        sa.Column("target_id", Id, nullable=False),
        sa.Column("group_id", Id, nullable=True),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt", sa.Float(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("sent_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["target_id"], ["alert_targets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alert_deliveries_state_next", "alert_deliveries", ["state", "next_attempt"])
    op.create_index(
        "ix_alert_deliveries_target_group",
        "alert_deliveries",
        ["target_id", "group_id", "created"],
    )


def downgrade() -> None:
    op.drop_index("ix_alert_deliveries_target_group", table_name="alert_deliveries")
    op.drop_index("ix_alert_deliveries_state_next", table_name="alert_deliveries")
    op.drop_table("alert_deliveries")
    op.drop_table("group_tickets")
    op.drop_table("alert_targets")
    op.drop_index("ix_group_events_group_at", table_name="group_events")
    op.drop_table("group_events")
    op.drop_table("sessions")
    op.drop_table("user_projects")
    op.drop_table("users")
