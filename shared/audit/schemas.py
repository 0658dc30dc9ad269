"""Audit shapes: the recorded actions, where a request came from, and the admin listing."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

IP_MAX_LENGTH = 64
USER_AGENT_MAX_LENGTH = 512

AuditAction = Literal[
    "auth.login_succeeded",
    "auth.login_failed",
    "auth.login_locked",
    "auth.refresh_reused",
    "auth.password_changed",
    "auth.logout",
    "auth.logout_all",
    "session.revoked",
    "api_key.created",
    "api_key.revoked",
    "admin.user_updated",
    "admin.created",
]


class ClientInfo(msgspec.Struct, frozen=True):
    """Where a request came from, as sessions and the audit log record it."""

    ip: str | None
    user_agent: str | None

    @classmethod
    def of(cls, ip: str | None, user_agent: str | None) -> ClientInfo:
        """Bounded to the stored column sizes: the user agent is whatever the client sent."""
        return cls(
            ip=ip[:IP_MAX_LENGTH] if ip else None,
            user_agent=user_agent[:USER_AGENT_MAX_LENGTH] if user_agent else None,
        )


class AuditEventOut(msgspec.Struct, kw_only=True):
    """``actor_user_id``: the account acting (for a login, the account it tried; null for an
    unknown email); ``target_user_id``: the account acted upon."""

    id: str
    action: AuditAction
    actor_user_id: str | None
    target_user_id: str | None
    ip: str | None
    user_agent: str | None
    details: dict[str, Any]
    created_at: datetime
