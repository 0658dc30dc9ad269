"""An index on audit_events.created_at, for pruning events past AUDIT_RETENTION.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

Generated with ``alembic revision --autogenerate`` and reviewed. Built ``CONCURRENTLY``
(outside the migration's transaction): a plain build would hold back every audited action,
logins included, of the pods still serving while it runs. A concurrent build that fails leaves
an invalid index behind, so a retry drops whatever is there first.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_audit_events_created_at"


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(
            op.f(INDEX), table_name="audit_events", postgresql_concurrently=True, if_exists=True
        )
        op.create_index(
            op.f(INDEX),
            "audit_events",
            ["created_at"],
            unique=False,
            postgresql_concurrently=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index(op.f(INDEX), table_name="audit_events", postgresql_concurrently=True)
