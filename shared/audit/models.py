"""The audit table: one row per security event, never updated."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.audit.schemas import IP_MAX_LENGTH, USER_AGENT_MAX_LENGTH
from shared.db.base import ID_LENGTH, Base, created_at_column, id_column


class AuditEvent(Base):
    """User ids carry no foreign key: the log must keep what happened to an account that is
    gone, and a failed login may name no account at all."""

    __tablename__ = "audit_events"
    __table_args__ = (
        # The admin listing is newest first by id (ids are time-ordered), optionally filtered.
        Index(None, "actor_user_id", "id"),
        Index(None, "target_user_id", "id"),
        Index(None, "action", "id"),
        # Pruning deletes by age, a bounded batch at a time.
        Index(None, "created_at"),
    )

    id: Mapped[str] = id_column()
    created_at: Mapped[datetime] = created_at_column()
    action: Mapped[str] = mapped_column(String(64))
    actor_user_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    target_user_id: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    ip: Mapped[str | None] = mapped_column(String(IP_MAX_LENGTH))
    user_agent: Mapped[str | None] = mapped_column(String(USER_AGENT_MAX_LENGTH))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
