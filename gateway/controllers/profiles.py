"""Style profiles: create, read, change, delete, add samples and score text."""

from __future__ import annotations

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.dependencies import PageCursor, PageLimit
from shared.auth.principal import Principal
from shared.db.uow import UnitOfWork
from shared.pagination import DEFAULT_LIMIT, Page
from shared.profiles import service
from shared.profiles.schemas import (
    ProfileCreate,
    ProfileOut,
    ProfileUpdate,
    SamplesAdd,
    ScoreIn,
    ScoreOut,
)

READ = {"scope": "profiles:read"}
WRITE = {"scope": "profiles:write"}


class ProfileController(Controller):
    path = "/profiles"
    tags = ["profiles"]
    security = [{"BearerAuth": []}]

    @post(opt=WRITE, summary="Create a style profile from sample posts")
    async def create(
        self,
        data: JSONBody[ProfileCreate],
        uow: NamedDependency[UnitOfWork],
        principal: NamedDependency[Principal],
    ) -> ProfileOut:
        return await service.create(uow.session, principal.user_id, data)

    @get(opt=READ, summary="List your profiles, newest first")
    async def list_profiles(
        self,
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        limit: PageLimit = DEFAULT_LIMIT,
        cursor: PageCursor = None,
    ) -> Page[ProfileOut]:
        return await service.list_profiles(session, principal.user_id, limit=limit, cursor=cursor)

    @get("/{profile_id:str}", opt=READ, summary="Get a profile")
    async def get_profile(
        self,
        profile_id: FromPath[str],
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> ProfileOut:
        return await service.get(session, principal.user_id, profile_id)

    @patch("/{profile_id:str}", opt=WRITE, summary="Rename or re-label a profile")
    async def update(
        self,
        profile_id: FromPath[str],
        data: JSONBody[ProfileUpdate],
        uow: NamedDependency[UnitOfWork],
        principal: NamedDependency[Principal],
    ) -> ProfileOut:
        return await service.update(uow.session, principal.user_id, profile_id, data)

    @delete("/{profile_id:str}", opt=WRITE, summary="Delete a profile and its samples")
    async def delete_profile(
        self,
        profile_id: FromPath[str],
        uow: NamedDependency[UnitOfWork],
        principal: NamedDependency[Principal],
    ) -> None:
        await service.delete(uow.session, principal.user_id, profile_id)

    @post("/{profile_id:str}/samples", opt=WRITE, status_code=200, summary="Add samples")
    async def add_samples(
        self,
        profile_id: FromPath[str],
        data: JSONBody[SamplesAdd],
        uow: NamedDependency[UnitOfWork],
        principal: NamedDependency[Principal],
    ) -> ProfileOut:
        return await service.add_samples(uow.session, principal.user_id, profile_id, data)

    @post(
        "/{profile_id:str}/score", opt=READ, status_code=200, summary="Score text against a profile"
    )
    async def score(
        self,
        profile_id: FromPath[str],
        data: JSONBody[ScoreIn],
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> ScoreOut:
        return await service.score_text(session, principal.user_id, profile_id, data)
