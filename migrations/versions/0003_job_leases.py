"""Job leases (a running job records its worker and a lease it keeps renewing), and an index
for the sweep of jobs queued for a while.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

Generated with ``alembic revision --autogenerate`` and reviewed. Both columns are nullable,
so existing rows need nothing; running jobs from before the upgrade have no lease and are
left to their workers.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("leased_by", sa.String(length=128), nullable=True))
    op.add_column("jobs", sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_jobs_queued_since",
        "jobs",
        ["updated_at"],
        unique=False,
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.create_index(
        "ix_jobs_running_lease",
        "jobs",
        ["lease_expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'running'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_jobs_queued_since", table_name="jobs", postgresql_where=sa.text("status = 'queued'")
    )
    op.drop_index(
        "ix_jobs_running_lease", table_name="jobs", postgresql_where=sa.text("status = 'running'")
    )
    op.drop_column("jobs", "lease_expires_at")
    op.drop_column("jobs", "leased_by")
