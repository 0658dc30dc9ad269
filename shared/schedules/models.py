"""Schedules and their firings.

A firing is identified by ``(schedule_id, scheduled_for)``: the primary key of
``schedule_firings`` makes "one job per firing" a database fact, however many workers evaluate
the schedule at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.clock import utcnow
from shared.db.base import ID_LENGTH, Base, created_at_column, id_column


class Schedule(Base):
    __tablename__ = "schedules"
    __table_args__ = (
        CheckConstraint("(cron IS NULL) <> (run_at IS NULL)", name="one_trigger"),
        Index(None, "user_id", "id"),
        # The firing loop only looks at enabled schedules that are due.
        Index(
            "ix_schedules_due",
            "next_run_at",
            postgresql_where=text("enabled AND next_run_at IS NOT NULL"),
        ),
    )

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE")
    )
    profile_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    platform: Mapped[str] = mapped_column(String(16))
    topics: Mapped[list[str]] = mapped_column(JSONB)
    options: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, default=dict)
    cron: Mapped[str | None] = mapped_column(String(120))
    run_at: Mapped[datetime | None]
    timezone: Mapped[str] = mapped_column(String(64))
    webhook_url: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    next_run_at: Mapped[datetime | None]
    last_run_at: Mapped[datetime | None]
    # Firings that created a job; the next topic is topics[fired_count % len(topics)].
    fired_count: Mapped[int] = mapped_column(Integer, default=0)
    missed_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ScheduleFiring(Base):
    __tablename__ = "schedule_firings"
    __table_args__ = (CheckConstraint("status IN ('fired', 'missed', 'refused')", name="status"),)

    schedule_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("schedules.id", ondelete="CASCADE"), primary_key=True
    )
    scheduled_for: Mapped[datetime] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    job_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
