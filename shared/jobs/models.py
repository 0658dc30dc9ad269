"""Generation jobs: the durable record of every accepted request and its outcome."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, Numeric, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.clock import utcnow
from shared.db.base import ID_LENGTH, Base, created_at_column, id_column

TERMINAL_STATUSES = frozenset({"succeeded", "failed", "canceled"})
ACTIVE_STATUSES = ("queued", "running")


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')", name="status"
        ),
        # Listing is newest first by id (ids are time-ordered), optionally filtered.
        Index(None, "user_id", "id"),
        Index(None, "user_id", "status", "id"),
        Index(None, "batch_id", "id", postgresql_where=text("batch_id IS NOT NULL")),
        Index(
            "uq_jobs_batch_id_custom_id",
            "batch_id",
            "custom_id",
            unique=True,
            postgresql_where=text("batch_id IS NOT NULL"),
        ),
        Index(None, "schedule_id", "id", postgresql_where=text("schedule_id IS NOT NULL")),
        # Operational counts and the sweeper only look at unfinished jobs.
        # The recovery sweep looks for running jobs whose worker stopped renewing the lease.
        Index(
            "ix_jobs_running_lease",
            "lease_expires_at",
            postgresql_where=text("status = 'running'"),
        ),
        # The stranded-job sweep looks for jobs queued for a while (their message may be lost).
        Index("ix_jobs_queued_since", "updated_at", postgresql_where=text("status = 'queued'")),
        Index(
            "ix_jobs_active_status",
            "status",
            postgresql_where=text("status IN ('queued', 'running')"),
        ),
    )

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE")
    )
    # No foreign key: deleting a profile must not rewrite job history.
    profile_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    platform: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    batch_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    schedule_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    custom_id: Mapped[str | None] = mapped_column(String(64))
    # Estimated cost held against the owner's monthly budget while the job is unfinished.
    reserved_usd: Mapped[Decimal] = mapped_column(
        Numeric(14, 6), default=Decimal(0), server_default=text("0")
    )
    webhook_url: Mapped[str | None] = mapped_column(Text)
    template_version: Mapped[str | None] = mapped_column(String(16))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(128))
    traceparent: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at_column()
    # While running: which worker holds the job and until when, unless it renews the lease.
    leased_by: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
