"""grouping v2: fingerprint version and learned fills per object, group aliases, learned symbols

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06

coronerd now computes every object's fingerprint itself (``objects.fp_version``: the version
that made ``objects.fingerprint``; NULL for objects stored before, whose key was the client's),
fills unsymbolised frames from symbols learned from other snapshots of the same build
(``objects.learned``: what was filled; ``learned_*``), joins groups through fingerprint aliases
(``group_aliases``) and leaves a group a person unmerged out of alias merges (``groups.pinned``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _build_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["project_id", "build_id"],
        ["learned_builds.project_id", "learned_builds.build_id"],
        ondelete="CASCADE",
    )


def upgrade() -> None:
    with op.batch_alter_table("objects") as batch:
        batch.add_column(sa.Column("fp_version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("learned", sa.Text(), nullable=True))
    with op.batch_alter_table("groups") as batch:
        batch.add_column(
            sa.Column("pinned", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "group_aliases",
        sa.Column("project_id", Id, nullable=False),
        sa.Column("alias", sa.String(128), nullable=False),
        sa.Column("group_id", Id, nullable=False),
        sa.Column("blamed", sa.String(512), nullable=True),
        sa.Column("created", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("project_id", "alias"),
    )
    op.create_index("ix_group_aliases_group", "group_aliases", ["group_id"])
    op.create_table(
        "learned_builds",
        sa.Column("project_id", Id, nullable=False),
        sa.Column("build_id", sa.String(128), nullable=False),
        sa.Column("functions", sa.Integer(), nullable=False),
        sa.Column("pcs", sa.Integer(), nullable=False),
        sa.Column("learned", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("project_id", "build_id"),
    )
    op.create_index(
        "ix_learned_builds_project_learned", "learned_builds", ["project_id", "learned"]
    )
    op.create_table(
        "learned_functions",
        sa.Column("project_id", Id, nullable=False),
        sa.Column("build_id", sa.String(128), nullable=False),
        sa.Column("function_start", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        _build_fk(),
        sa.PrimaryKeyConstraint("project_id", "build_id", "function_start"),
    )
    op.create_table(
        "learned_pcs",
        sa.Column("project_id", Id, nullable=False),
        sa.Column("build_id", sa.String(128), nullable=False),
        sa.Column("module_offset", sa.BigInteger(), nullable=False),
        sa.Column("frames", sa.Text(), nullable=False),
        _build_fk(),
        sa.PrimaryKeyConstraint("project_id", "build_id", "module_offset"),
    )


def downgrade() -> None:
    op.drop_table("learned_pcs")
    op.drop_table("learned_functions")
    op.drop_index("ix_learned_builds_project_learned", table_name="learned_builds")
    op.drop_table("learned_builds")
    op.drop_index("ix_group_aliases_group", table_name="group_aliases")
    op.drop_table("group_aliases")
    with op.batch_alter_table("groups") as batch:
        batch.drop_column("pinned")
    with op.batch_alter_table("objects") as batch:
        batch.drop_column("learned")
        batch.drop_column("fp_version")
