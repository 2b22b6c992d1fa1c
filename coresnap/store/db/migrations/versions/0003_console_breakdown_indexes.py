"""indexes for the console's breakdowns: version, classification, hosts per group

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

The console's project page counts objects per version and per classification and the distinct
hosts of each group on every load; without these (project-led) indexes each is a scan of the
whole objects table (~0.3 s each at 100k objects on SQLite), with them an index-only scan.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_objects_project_version", "objects", ["project_id", "version"])
    op.create_index(
        "ix_objects_project_classification", "objects", ["project_id", "classification"]
    )
    op.create_index(
        "ix_objects_project_group_hostname", "objects", ["project_id", "group_id", "hostname"]
    )


def downgrade() -> None:
    op.drop_index("ix_objects_project_group_hostname", table_name="objects")
    op.drop_index("ix_objects_project_classification", table_name="objects")
    op.drop_index("ix_objects_project_version", table_name="objects")
