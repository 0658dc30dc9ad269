"""The usage ledger: what each job cost, recorded once per job."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import ID_LENGTH, Base, created_at_column, id_column


class UsageEntry(Base):
    __tablename__ = "usage_ledger"
    __table_args__ = (Index(None, "user_id", "created_at"), Index(None, "created_at"))

    id: Mapped[str] = id_column()
    # Unique: a job is billed at most once, whatever retries or re-deliveries happen.
    job_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("jobs.id", ondelete="CASCADE"), unique=True
    )
    user_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE")
    )
    model: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(16))
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    model_calls: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[Decimal] = mapped_column(Numeric(14, 6))
    created_at: Mapped[datetime] = created_at_column()
