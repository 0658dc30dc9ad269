"""All SQL of the admin capability: listing and changing users, the oldest queued job."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth.models import User
from shared.jobs.models import Job


async def list_users(
    session: AsyncSession,
    *,
    email: str | None,
    role: str | None,
    disabled: bool | None,
    after_id: str | None,
    limit: int,
) -> Sequence[User]:
    """Users newest first (ids are time-ordered), walking the primary key.

    The filters have no index of their own: the admin list is rare and the primary-key walk
    stops at ``limit`` matches.
    """
    query = select(User).order_by(User.id.desc()).limit(limit)
    if email:
        # Stored addresses are lower-case; autoescape keeps % and _ literal.
        query = query.where(User.email.contains(email.lower(), autoescape=True))
    if role is not None:
        query = query.where(User.role == role)
    if disabled is not None:
        query = query.where(User.disabled.is_(disabled))
    if after_id is not None:
        query = query.where(User.id < after_id)
    return (await session.scalars(query)).all()


async def update_user(session: AsyncSession, user_id: str, values: dict[str, Any]) -> User | None:
    """Change a user's columns and return the row; None if there is no such user."""
    user: User | None = await session.scalar(
        update(User)
        .where(User.id == user_id)
        .values(**values)
        .returning(User)
        .execution_options(populate_existing=True)
    )
    return user


async def oldest_queued_at(session: AsyncSession) -> datetime | None:
    """When the longest-waiting queued job was created (the partial active-status index)."""
    oldest: datetime | None = await session.scalar(
        select(func.min(Job.created_at)).where(Job.status == "queued")
    )
    return oldest
