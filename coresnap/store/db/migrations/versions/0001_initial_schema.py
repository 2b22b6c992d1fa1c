"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "groups",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("fingerprint", sa.String(length=128), nullable=False),
        sa.Column(
            "merged_into", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("first_seen", sa.Float(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_by", sa.String(length=128), nullable=True),
        sa.Column("state_at", sa.Float(), nullable=True),
        sa.Column("resolved_version", sa.String(length=128), nullable=True),
        sa.Column("frames", sa.Text(), nullable=True),
        sa.Column("sample_period", sa.Float(), nullable=False),
        sa.Column("sample_kept", sa.Integer(), nullable=False),
        sa.Column("sample_minute", sa.Integer(), nullable=False),
        sa.Column("sample_minute_kept", sa.Integer(), nullable=False),
        sa.Column("sample_hour", sa.Integer(), nullable=False),
        sa.Column("sample_hour_kept", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["merged_into"],
            ["groups.id"],
        ),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "fingerprint", name="uq_groups_project_fingerprint"),
    )
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_groups_project_last_seen", ["project_id", "last_seen"], unique=False
        )

    op.create_table(
        "tokens",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.String(length=64), nullable=False),
        sa.Column("created", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "name", name="uq_tokens_project_name"),
    )
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tokens_prefix"), ["prefix"], unique=False)

    op.create_table(
        "objects",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "project_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("oid", sa.String(length=32), nullable=False),
        sa.Column("group_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("fingerprint", sa.String(length=128), nullable=False),
        sa.Column("timestamp", sa.Float(), nullable=False),
        sa.Column("received", sa.Float(), nullable=False),
        sa.Column("application", sa.String(length=1024), nullable=True),
        sa.Column("hostname", sa.String(length=1024), nullable=True),
        sa.Column("classification", sa.String(length=1024), nullable=True),
        sa.Column("version", sa.String(length=128), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("blob_key", sa.String(length=256), nullable=True),
        sa.Column("blob_kept", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
        ),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "oid", name="uq_objects_project_oid"),
    )
    with op.batch_alter_table("objects", schema=None) as batch_op:
        batch_op.create_index("ix_objects_fingerprint", ["project_id", "fingerprint"], unique=False)
        batch_op.create_index(
            "ix_objects_project_application", ["project_id", "application"], unique=False
        )
        batch_op.create_index(
            "ix_objects_project_group_timestamp",
            ["project_id", "group_id", "timestamp"],
            unique=False,
        )
        batch_op.create_index(
            "ix_objects_project_hostname", ["project_id", "hostname"], unique=False
        )
        batch_op.create_index(
            "ix_objects_project_received", ["project_id", "received"], unique=False
        )
        batch_op.create_index(
            "ix_objects_project_timestamp", ["project_id", "timestamp"], unique=False
        )

    op.create_table(
        "attachments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "object_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("content_type", sa.String(length=128), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("blob_key", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(["object_id"], ["objects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("object_id", "name", name="uq_attachments_object_name"),
    )
    op.create_table(
        "attributes",
        sa.Column(
            "object_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value_text", sa.String(length=1024), nullable=True),
        sa.Column("value_num", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["object_id"], ["objects.id"], ondelete="CASCADE"),
    )
    with op.batch_alter_table("attributes", schema=None) as batch_op:
        batch_op.create_index("ix_attributes_key_num", ["key", "value_num"], unique=False)
        batch_op.create_index("ix_attributes_key_text", ["key", "value_text"], unique=False)
        batch_op.create_index("ix_attributes_object_key", ["object_id", "key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("attributes", schema=None) as batch_op:
        batch_op.drop_index("ix_attributes_object_key")
        batch_op.drop_index("ix_attributes_key_text")
        batch_op.drop_index("ix_attributes_key_num")

    op.drop_table("attributes")
    op.drop_table("attachments")
    with op.batch_alter_table("objects", schema=None) as batch_op:
        batch_op.drop_index("ix_objects_project_timestamp")
        batch_op.drop_index("ix_objects_project_received")
        batch_op.drop_index("ix_objects_project_hostname")
        batch_op.drop_index("ix_objects_project_group_timestamp")
        batch_op.drop_index("ix_objects_project_application")
        batch_op.drop_index("ix_objects_fingerprint")

    op.drop_table("objects")
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tokens_prefix"))

    op.drop_table("tokens")
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.drop_index("ix_groups_project_last_seen")

    op.drop_table("groups")
    op.drop_table("projects")
