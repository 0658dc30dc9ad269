"""All SQL for profiles and their samples."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import NotFound
from shared.profiles.models import Profile, ProfileSample


async def get_owned(session: AsyncSession, user_id: str, profile_id: str) -> Profile:
    """Raises NotFound for unknown ids and for other users' profiles alike."""
    profile = await session.scalar(
        select(Profile).where(Profile.id == profile_id, Profile.user_id == user_id)
    )
    if profile is None:
        raise NotFound("profile not found")
    return profile


async def list_owned(
    session: AsyncSession, user_id: str, *, after_id: str | None, limit: int
) -> Sequence[Profile]:
    query = select(Profile).where(Profile.user_id == user_id)
    if after_id:
        query = query.where(Profile.id < after_id)
    return (await session.scalars(query.order_by(Profile.id.desc()).limit(limit))).all()


async def samples_of(session: AsyncSession, profile_id: str) -> Sequence[ProfileSample]:
    return (
        await session.scalars(
            select(ProfileSample)
            .where(ProfileSample.profile_id == profile_id)
            .order_by(ProfileSample.id)
        )
    ).all()


async def delete_profile(session: AsyncSession, profile: Profile) -> None:
    await session.execute(delete(Profile).where(Profile.id == profile.id))
