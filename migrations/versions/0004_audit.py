"""The security audit log (audit_events).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

Generated with ``alembic revision --autogenerate`` and reviewed. A new table only, so the
upgrade touches no existing rows. The user ids carry no foreign key on purpose: the log keeps
what happened to an account after it is gone, and a failed login may name no account. Each
admin filter (actor, target, action) has an index ending in ``id`` for newest-first paging.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("actor_user_id", sa.String(length=40), nullable=True),
        sa.Column("target_user_id", sa.String(length=40), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index(
        op.f("ix_audit_events_action_id"), "audit_events", ["action", "id"], unique=False
    )
    op.create_index(
        op.f("ix_audit_events_actor_user_id_id"),
        "audit_events",
        ["actor_user_id", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_audit_events_target_user_id_id"),
        "audit_events",
        ["target_user_id", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_events_target_user_id_id"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_actor_user_id_id"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_action_id"), table_name="audit_events")
    op.drop_table("audit_events")
