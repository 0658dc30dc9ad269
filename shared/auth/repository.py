"""All SQL of the auth capability: users, sessions (refresh-token families), API keys.

Functions take the caller's ``AsyncSession`` and flush at most; the entry point commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

import msgspec
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from shared.auth.models import ApiKey, AuthSession, RefreshToken, User
from shared.auth.schemas import Role
from shared.errors import Conflict
from shared.ids import new_id

_UNIQUE_VIOLATION = "23505"

# Why a session ended (auth_sessions.revoke_reason); the first reason recorded is kept.
RevokeReason = Literal[
    "refresh_reuse",
    "logout",
    "logout_all",
    "user_revoked",
    "password_change",
    "password_reset",
    "user_disabled",
]
_USER_AGENT_MAX = 512
_IP_MAX = 64


class ConsumedRefreshToken(msgspec.Struct, frozen=True):
    session_id: str
    expires_at: datetime


class SessionOwner(msgspec.Struct, frozen=True):
    """The user behind a session, with what decides whether the session may continue."""

    user_id: str
    role: Role
    disabled: bool
    revoked: bool


class AccessCheck(msgspec.Struct, frozen=True):
    """What an access-token request needs to know about its user and session."""

    role: Role
    disabled: bool
    session_active: bool
    monthly_budget_usd: Decimal | None


class ApiKeyCredential(msgspec.Struct, frozen=True):
    id: str
    user_id: str
    role: Role
    disabled: bool
    monthly_budget_usd: Decimal | None
    scopes: list[str]
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


# Users


async def add_user(
    session: AsyncSession,
    *,
    email: str,
    password_hash: str,
    display_name: str | None,
    role: Role = "user",
) -> User:
    """Insert a user.

    Raises:
        Conflict: the email is already registered.
    """
    user = User(
        id=new_id("usr"),
        email=email,
        password_hash=password_hash,
        display_name=display_name,
        role=role,
        disabled=False,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as exc:
        if _is_unique_violation(exc, "uq_users_email"):
            raise Conflict("email already registered") from None
        raise
    return user


async def get_user(session: AsyncSession, user_id: str) -> User | None:
    return await session.get(User, user_id)


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email))


async def set_password_hash(session: AsyncSession, user_id: str, password_hash: str) -> None:
    await session.execute(
        update(User).where(User.id == user_id).values(password_hash=password_hash)
    )


async def set_role(session: AsyncSession, user_id: str, role: Role) -> None:
    await session.execute(update(User).where(User.id == user_id).values(role=role))


async def check_access(session: AsyncSession, user_id: str, session_id: str) -> AccessCheck | None:
    """Load the user and whether its session is live: one primary-key join."""
    row = (
        await session.execute(
            select(
                User.role,
                User.disabled,
                User.monthly_budget_usd,
                AuthSession.id.label("sid"),
                AuthSession.revoked_at,
            )
            .outerjoin(
                AuthSession, and_(AuthSession.id == session_id, AuthSession.user_id == User.id)
            )
            .where(User.id == user_id)
        )
    ).one_or_none()
    if row is None:
        return None
    active = row.sid is not None and row.revoked_at is None
    return AccessCheck(
        role=row.role,
        disabled=row.disabled,
        session_active=active,
        monthly_budget_usd=row.monthly_budget_usd,
    )


# Sessions and refresh tokens


async def add_session(
    session: AsyncSession, *, user_id: str, user_agent: str | None, ip: str | None, now: datetime
) -> AuthSession:
    family = AuthSession(
        id=new_id("ses"),
        user_id=user_id,
        user_agent=user_agent[:_USER_AGENT_MAX] if user_agent else None,
        ip=ip[:_IP_MAX] if ip else None,
        created_at=now,
        last_used_at=now,
    )
    session.add(family)
    await session.flush()
    return family


async def add_refresh_token(
    session: AsyncSession, *, session_id: str, token_hash: str, expires_at: datetime
) -> None:
    session.add(
        RefreshToken(
            id=new_id("rtk"), session_id=session_id, token_hash=token_hash, expires_at=expires_at
        )
    )
    await session.flush()


async def consume_refresh_token(
    session: AsyncSession, token_hash: str, now: datetime
) -> ConsumedRefreshToken | None:
    """Mark an unused token used and return it; ``None`` if it is unknown or already used.

    One conditional UPDATE: of two concurrent calls with the same token, the second waits
    for the first's row lock and then matches nothing, so exactly one of them wins.
    """
    row = (
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.token_hash == token_hash, RefreshToken.used_at.is_(None))
            .values(used_at=now)
            .returning(RefreshToken.session_id, RefreshToken.expires_at)
        )
    ).one_or_none()
    return ConsumedRefreshToken(row.session_id, row.expires_at) if row else None


async def find_token_family(session: AsyncSession, token_hash: str) -> str | None:
    """The session a refresh token belongs to, used or not."""
    return await session.scalar(
        select(RefreshToken.session_id).where(RefreshToken.token_hash == token_hash)
    )


async def get_session_owner(session: AsyncSession, session_id: str) -> SessionOwner | None:
    row = (
        await session.execute(
            select(AuthSession.user_id, AuthSession.revoked_at, User.role, User.disabled)
            .join(User, User.id == AuthSession.user_id)
            .where(AuthSession.id == session_id)
        )
    ).one_or_none()
    if row is None:
        return None
    return SessionOwner(
        user_id=row.user_id,
        role=row.role,
        disabled=row.disabled,
        revoked=row.revoked_at is not None,
    )


async def touch_session(session: AsyncSession, session_id: str, now: datetime) -> None:
    await session.execute(
        update(AuthSession).where(AuthSession.id == session_id).values(last_used_at=now)
    )


async def revoke_family(
    session: AsyncSession, session_id: str, *, reason: RevokeReason, now: datetime
) -> str | None:
    """Revoke one session; return its user's id, or None if it was already revoked (which
    keeps its first time and reason)."""
    return await session.scalar(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now, revoke_reason=reason)
        .returning(AuthSession.user_id)
    )


async def revoke_user_sessions(
    session: AsyncSession,
    user_id: str,
    *,
    reason: RevokeReason,
    now: datetime,
    keep: str | None = None,
) -> None:
    """Revoke every live session of a user, except ``keep`` when given."""
    conditions = [AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)]
    if keep is not None:
        conditions.append(AuthSession.id != keep)
    await session.execute(
        update(AuthSession).where(*conditions).values(revoked_at=now, revoke_reason=reason)
    )


async def revoke_user_session(
    session: AsyncSession, user_id: str, session_id: str, *, reason: RevokeReason, now: datetime
) -> bool:
    """Revoke one of the user's sessions (idempotent); ``False`` if the user has no such one."""
    revoked_id = await session.scalar(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.user_id == user_id)
        .values(
            revoked_at=func.coalesce(AuthSession.revoked_at, now),
            revoke_reason=func.coalesce(AuthSession.revoke_reason, reason),
        )
        .returning(AuthSession.id)
    )
    return revoked_id is not None


async def list_sessions(
    session: AsyncSession, user_id: str, *, active_since: datetime
) -> Sequence[AuthSession]:
    """Live sessions, newest first; one unused since ``active_since`` has no valid token left."""
    return (
        await session.scalars(
            select(AuthSession)
            .where(
                AuthSession.user_id == user_id,
                AuthSession.revoked_at.is_(None),
                AuthSession.last_used_at > active_since,
            )
            .order_by(AuthSession.created_at.desc())
        )
    ).all()


# API keys


async def add_api_key(
    session: AsyncSession,
    *,
    user_id: str,
    name: str,
    prefix: str,
    key_hash: str,
    scopes: list[str],
    expires_at: datetime | None,
) -> ApiKey:
    key = ApiKey(
        id=new_id("key"),
        user_id=user_id,
        name=name,
        prefix=prefix,
        key_hash=key_hash,
        scopes=scopes,
        expires_at=expires_at,
    )
    session.add(key)
    await session.flush()
    return key


async def list_api_keys(session: AsyncSession, user_id: str) -> Sequence[ApiKey]:
    """The user's unrevoked keys (expired ones included, so they can be seen), newest first."""
    return (
        await session.scalars(
            select(ApiKey)
            .where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
            .order_by(ApiKey.created_at.desc())
        )
    ).all()


async def revoke_api_key(
    session: AsyncSession, user_id: str, key_id: str, *, now: datetime
) -> bool:
    """Revoke one of the user's keys (idempotent); ``False`` if the user has no such key."""
    revoked_id = await session.scalar(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.user_id == user_id)
        .values(revoked_at=func.coalesce(ApiKey.revoked_at, now))
        .returning(ApiKey.id)
    )
    return revoked_id is not None


async def find_api_key(session: AsyncSession, key_hash: str) -> ApiKeyCredential | None:
    """A key and its owner, by digest: one unique-index lookup joined by primary key."""
    row = (
        await session.execute(
            select(
                ApiKey.id,
                ApiKey.user_id,
                ApiKey.scopes,
                ApiKey.expires_at,
                ApiKey.revoked_at,
                ApiKey.last_used_at,
                User.role,
                User.disabled,
                User.monthly_budget_usd,
            )
            .join(User, User.id == ApiKey.user_id)
            .where(ApiKey.key_hash == key_hash)
        )
    ).one_or_none()
    if row is None:
        return None
    return ApiKeyCredential(
        id=row.id,
        user_id=row.user_id,
        role=row.role,
        disabled=row.disabled,
        monthly_budget_usd=row.monthly_budget_usd,
        scopes=list(row.scopes),
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


async def touch_api_key(
    session: AsyncSession, key_id: str, *, now: datetime, min_interval: timedelta
) -> None:
    """Record use unless recorded within ``min_interval``.

    ``SKIP LOCKED``: the row lock lasts until the request commits, and a concurrent request
    with the same key must not wait for it just to write a timestamp someone else is writing.
    """
    row = aliased(ApiKey)
    stale = (
        select(row.id)
        .where(
            row.id == key_id, or_(row.last_used_at.is_(None), row.last_used_at < now - min_interval)
        )
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    await session.execute(update(ApiKey).where(ApiKey.id == stale).values(last_used_at=now))


def _is_unique_violation(exc: IntegrityError, constraint: str) -> bool:
    return getattr(exc.orig, "sqlstate", None) == _UNIQUE_VIOLATION and constraint in str(exc.orig)
