"""A batch groups jobs; ``pending`` counts its unfinished items.

``pending`` is decremented by the transaction that moves an item to a terminal state, under
the batch row's lock, so concurrent completions cannot lose an update and exactly one of them
sees it reach zero and completes the batch. The per-status counts are read from the jobs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.clock import utcnow
from shared.db.base import ID_LENGTH, Base, created_at_column, id_column

BATCH_STATUSES = ("in_progress", "completed", "canceled")


class Batch(Base):
    __tablename__ = "batches"
    __table_args__ = (
        CheckConstraint("status IN ('in_progress', 'completed', 'canceled')", name="status"),
        CheckConstraint("pending >= 0 AND pending <= total", name="pending"),
        Index(None, "user_id", "id"),
    )

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(16), default="in_progress")
    total: Mapped[int] = mapped_column(Integer)
    pending: Mapped[int] = mapped_column(Integer)
    webhook_url: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, default=dict)
    request_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = created_at_column()
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
