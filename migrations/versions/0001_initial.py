"""Initial schema: users and auth, profiles, jobs, usage ledger, outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Written by hand (reviewed against the models): tables are created before their indexes,
foreign keys name their ON DELETE rule, and every filter/sort the API offers has an index.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.String(40)
NOW = sa.text("now()")


def _timestamp(name: str, *, nullable: bool = False, default: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        name,
        sa.DateTime(timezone=True),
        nullable=nullable,
        server_default=NOW if default else None,
    )


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", ID, primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("display_name", sa.String(100)),
        sa.Column("role", sa.String(16), nullable=False, server_default="user"),
        sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("monthly_budget_usd", sa.Numeric(14, 6)),
        _timestamp("created_at", default=True),
        _timestamp("updated_at", default=True),
        sa.CheckConstraint("role IN ('user', 'admin')", name="role"),
        sa.UniqueConstraint("email"),
    )

    op.create_table(
        "auth_sessions",
        sa.Column("id", ID, primary_key=True),
        sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_agent", sa.String(512)),
        sa.Column("ip", sa.String(64)),
        _timestamp("created_at", default=True),
        _timestamp("last_used_at", default=True),
        _timestamp("revoked_at", nullable=True),
        sa.Column("revoke_reason", sa.String(32)),
    )
    op.create_index(None, "auth_sessions", ["user_id", "created_at"])

    op.create_table(
        "refresh_tokens",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "session_id",
            ID,
            sa.ForeignKey("auth_sessions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("token_hash", sa.String(64), nullable=False),
        _timestamp("expires_at"),
        _timestamp("used_at", nullable=True),
        _timestamp("created_at", default=True),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index(None, "refresh_tokens", ["session_id"])

    op.create_table(
        "api_keys",
        sa.Column("id", ID, primary_key=True),
        sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.String(32)), nullable=False),
        _timestamp("expires_at", nullable=True),
        _timestamp("last_used_at", nullable=True),
        _timestamp("revoked_at", nullable=True),
        _timestamp("created_at", default=True),
        sa.UniqueConstraint("key_hash"),
    )
    op.create_index(None, "api_keys", ["user_id", "created_at"])

    op.create_table(
        "profiles",
        sa.Column("id", ID, primary_key=True),
        sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("style", postgresql.JSONB(), nullable=False),
        sa.Column("sample_count", sa.Integer(), nullable=False),
        _timestamp("created_at", default=True),
        _timestamp("updated_at", default=True),
    )
    op.create_index(None, "profiles", ["user_id", "id"])

    op.create_table(
        "profile_samples",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "profile_id", ID, sa.ForeignKey("profiles.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        _timestamp("created_at", default=True),
    )
    op.create_index(None, "profile_samples", ["profile_id"])

    op.create_table(
        "jobs",
        sa.Column("id", ID, primary_key=True),
        sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        # No foreign key: deleting a profile must not rewrite job history.
        sa.Column("profile_id", ID, nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("options", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("metadata", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("status", sa.String(16), nullable=False, server_default="queued"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("batch_id", ID),
        sa.Column("schedule_id", ID),
        sa.Column("webhook_url", sa.Text()),
        sa.Column("template_version", sa.String(16)),
        sa.Column("result", postgresql.JSONB()),
        sa.Column("error_code", sa.String(64)),
        sa.Column("error_message", sa.Text()),
        sa.Column("request_id", sa.String(128)),
        sa.Column("traceparent", sa.String(64)),
        _timestamp("created_at", default=True),
        _timestamp("started_at", nullable=True),
        _timestamp("finished_at", nullable=True),
        _timestamp("updated_at", default=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')", name="status"
        ),
    )
    op.create_index(None, "jobs", ["user_id", "id"])
    op.create_index(None, "jobs", ["user_id", "status", "id"])
    op.create_index(
        None, "jobs", ["batch_id", "id"], postgresql_where=sa.text("batch_id IS NOT NULL")
    )
    op.create_index(
        None, "jobs", ["schedule_id", "id"], postgresql_where=sa.text("schedule_id IS NOT NULL")
    )
    op.create_index(
        "ix_jobs_active_status",
        "jobs",
        ["status"],
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )

    op.create_table(
        "usage_ledger",
        sa.Column("id", ID, primary_key=True),
        sa.Column("job_id", ID, sa.ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("cached_prompt_tokens", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("completion_tokens", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("model_calls", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("cost_usd", sa.Numeric(14, 6), nullable=False),
        _timestamp("created_at", default=True),
        sa.UniqueConstraint("job_id"),
    )
    op.create_index(None, "usage_ledger", ["user_id", "created_at"])

    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("task", sa.String(64), nullable=False),
        sa.Column("queue_job_id", sa.String(80), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        _timestamp("created_at", default=True),
    )
    op.create_index(None, "outbox", ["created_at"])


def downgrade() -> None:
    for table in (
        "outbox",
        "usage_ledger",
        "jobs",
        "profile_samples",
        "profiles",
        "api_keys",
        "refresh_tokens",
        "auth_sessions",
        "users",
    ):
        op.drop_table(table)
