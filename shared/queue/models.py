"""The outbox: queue messages written in the same transaction as the change that causes them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Identity, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, created_at_column


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        # The sweeper looks for messages the relay did not send (sent ones are deleted).
        Index(None, "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    task: Mapped[str] = mapped_column(String(64))
    # ARQ ``_job_id``: a second send of the same message is dropped by ARQ itself.
    queue_job_id: Mapped[str] = mapped_column(String(80))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = created_at_column()
