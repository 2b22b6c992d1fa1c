"""debug files: ELF debug files uploaded per project and build id

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04

``coroner symbols upload`` sends an unstripped executable or a separate ``.debug`` file for a
build id; coronerd keeps its bytes in the blob store and a row here, and symbolises the nameless
frames of that build's crashes from it (``store/debugfiles.py``, ``store/debugsyms.py``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "debug_files",
        sa.Column("project_id", Id, nullable=False),
        sa.Column("build_id", sa.String(128), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("uploaded", sa.Float(), nullable=False),
        sa.Column("blob_key", sa.String(512), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("project_id", "build_id"),
    )


def downgrade() -> None:
    op.drop_table("debug_files")
