"""Style profiles: measure an author's samples and keep the result with them."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import utcnow
from shared.ids import new_id
from shared.pagination import Page, decode_cursor, page_of
from shared.profiles import repository
from shared.profiles.models import Profile, ProfileSample
from shared.profiles.schemas import (
    ProfileCreate,
    ProfileOut,
    ProfileUpdate,
    SampleIn,
    SamplesAdd,
    ScoreIn,
    ScoreOut,
)
from shared.style import Sample, StyleProfile, build_profile, score


def to_out(profile: Profile) -> ProfileOut:
    return ProfileOut(
        id=profile.id,
        name=profile.name,
        language=profile.language,
        sample_count=profile.sample_count,
        style=profile.style,
        created_at=profile.created_at,
        updated_at=profile.updated_at,
    )


def style_of(profile: Profile) -> StyleProfile:
    return msgspec.convert(profile.style, StyleProfile)


def _measure(samples: Sequence[Sample], language: str | None) -> StyleProfile:
    return build_profile(samples, language=language)


def _rows(profile_id: str, samples: Sequence[SampleIn]) -> list[ProfileSample]:
    return [
        ProfileSample(id=new_id("smp"), profile_id=profile_id, platform=s.platform, text=s.text)
        for s in samples
    ]


async def create(session: AsyncSession, user_id: str, data: ProfileCreate) -> ProfileOut:
    """Profile the samples and store both; the language is detected unless given."""
    style = _measure(
        [Sample(platform=s.platform, text=s.text) for s in data.samples], data.language
    )
    now = utcnow()
    profile = Profile(
        id=new_id("prof"),
        user_id=user_id,
        name=data.name,
        language=data.language or style.language,
        style=msgspec.to_builtins(style),
        sample_count=style.sample_count,
        created_at=now,
        updated_at=now,
    )
    session.add(profile)
    await session.flush()
    session.add_all(_rows(profile.id, data.samples))
    await session.flush()
    return to_out(profile)


async def get(session: AsyncSession, user_id: str, profile_id: str) -> ProfileOut:
    """Raises NotFound."""
    return to_out(await repository.get_owned(session, user_id, profile_id))


async def list_profiles(
    session: AsyncSession, user_id: str, *, limit: int, cursor: str | None
) -> Page[ProfileOut]:
    rows = await repository.list_owned(
        session, user_id, after_id=decode_cursor(cursor), limit=limit + 1
    )
    return page_of([to_out(row) for row in rows], limit, "id")


async def update(
    session: AsyncSession, user_id: str, profile_id: str, data: ProfileUpdate
) -> ProfileOut:
    """Rename or re-label a profile. Raises NotFound."""
    profile = await repository.get_owned(session, user_id, profile_id)
    if data.name is not None:
        profile.name = data.name
    if data.language is not None:
        profile.language = data.language
    profile.updated_at = utcnow()
    await session.flush()
    return to_out(profile)


async def delete(session: AsyncSession, user_id: str, profile_id: str) -> None:
    """Raises NotFound."""
    profile = await repository.get_owned(session, user_id, profile_id)
    await repository.delete_profile(session, profile)


async def add_samples(
    session: AsyncSession, user_id: str, profile_id: str, data: SamplesAdd
) -> ProfileOut:
    """Add samples and re-profile from all of them. Raises NotFound."""
    profile = await repository.get_owned(session, user_id, profile_id)
    session.add_all(_rows(profile.id, data.samples))
    await session.flush()
    samples = await repository.samples_of(session, profile.id)
    style = _measure([Sample(platform=s.platform, text=s.text) for s in samples], profile.language)  # type: ignore[arg-type]
    profile.style = msgspec.to_builtins(style)
    profile.sample_count = style.sample_count
    profile.updated_at = utcnow()
    await session.flush()
    return to_out(profile)


async def score_text(
    session: AsyncSession, user_id: str, profile_id: str, data: ScoreIn
) -> ScoreOut:
    """Score any text against the profile with the same scorer used for generated posts."""
    profile = await repository.get_owned(session, user_id, profile_id)
    result = score(data.text, style_of(profile), data.platform)
    return ScoreOut(overall=result.overall, features=result.features)
