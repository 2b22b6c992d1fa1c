"""sign-in throttle: failed sign-ins and device cookies in the database

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04

The console's sign-in throttle kept its counts in each coronerd process's memory: two processes
on one database counted apart, and a spray of guesses against a user's name locked that user
out. Failures are now rows (a key, a time) every process counts, and a browser that signed in
as a user holds a device cookie (its SHA-256 stored here) that exempts it from the lockout of
that user's name (``store/console/throttle.py``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "signin_failures",
        sa.Column("id", Id, primary_key=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
    )
    op.create_index("ix_signin_failures_key_at", "signin_failures", ["key", "at"])
    op.create_index("ix_signin_failures_at", "signin_failures", ["at"])
    op.create_table(
        "signin_devices",
        sa.Column("hash", sa.String(64), primary_key=True),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.Column("expires", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_signin_devices_user", "signin_devices", ["user_id", "created"])


def downgrade() -> None:
    op.drop_index("ix_signin_devices_user", table_name="signin_devices")
    op.drop_table("signin_devices")
    op.drop_index("ix_signin_failures_at", table_name="signin_failures")
    op.drop_index("ix_signin_failures_key_at", table_name="signin_failures")
    op.drop_table("signin_failures")
