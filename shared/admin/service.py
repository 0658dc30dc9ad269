"""Administration: list and change users (role, access, budget) and look at the queue."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
from loguru import logger
from msgspec import UNSET
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from shared.admin import repository
from shared.admin.schemas import (
    KEY_POOL_PREFIX,
    AdminUserOut,
    AdminUserUpdate,
    KeyPoolOut,
    QueueOut,
)
from shared.audit import service as audit
from shared.audit.schemas import ClientInfo
from shared.auth import repository as users
from shared.auth.models import User
from shared.auth.schemas import Role
from shared.billing.pricing import format_usd
from shared.clock import utcnow
from shared.db.uow import UnitOfWork
from shared.errors import Conflict, NotFound
from shared.jobs.repository import count_active_by_status
from shared.pagination import Page, decode_cursor, page_of
from shared.queue.client import QUEUE_NAME
from shared.queue.heartbeat import live_worker_ids


async def list_users(
    session: AsyncSession,
    *,
    email: str | None,
    role: Role | None,
    disabled: bool | None,
    limit: int,
    cursor: str | None,
) -> Page[AdminUserOut]:
    """Users newest first, filtered by email substring, role and disabled. Raises ValidationFailed
    (bad cursor)."""
    rows = await repository.list_users(
        session,
        email=email,
        role=role,
        disabled=disabled,
        after_id=decode_cursor(cursor),
        limit=limit + 1,
    )
    return page_of([_out(row) for row in rows], limit, "id")


async def get_user(session: AsyncSession, user_id: str) -> AdminUserOut:
    """Raises NotFound."""
    user = await users.get_user(session, user_id)
    if user is None:
        raise NotFound("user not found")
    return _out(user)


async def update_user(
    uow: UnitOfWork, actor_id: str, user_id: str, data: AdminUserUpdate, *, client: ClientInfo
) -> AdminUserOut:
    """Change a user's role, access or monthly budget, and audit the fields that changed.

    Disabling also ends the user's sessions, so their refresh tokens die with their access
    tokens and API keys (which fail from the next request on, as every request re-reads the
    user). Raises NotFound, and Conflict when admins would demote or disable themselves.
    """
    changes = _changes(data)
    if user_id == actor_id and (changes.get("role") == "user" or changes.get("disabled")):
        raise Conflict("admins cannot demote or disable themselves")
    if not changes:
        return await get_user(uow.session, user_id)
    values = dict(changes)
    if isinstance(values.get("monthly_budget_usd"), str):
        values["monthly_budget_usd"] = Decimal(values["monthly_budget_usd"])
    user = await repository.update_user(uow.session, user_id, values)
    if user is None:
        raise NotFound("user not found")
    if changes.get("disabled"):
        await users.revoke_user_sessions(uow.session, user_id, reason="user_disabled", now=utcnow())
    await audit.record(
        uow.session,
        "admin.user_updated",
        client,
        actor_user_id=actor_id,
        target_user_id=user_id,
        details={"changes": changes},
    )
    logger.info("admin.user_updated", actor_id=actor_id, user_id=user_id, changes=changes)
    return _out(user)


async def queue(session: AsyncSession, redis: Redis) -> QueueOut:
    """Queue depth in Redis, queued and running jobs, live workers, the longest wait and each
    worker's model key pool."""
    counts = await count_active_by_status(session)
    oldest = await repository.oldest_queued_at(session)
    depth: int = await redis.zcard(QUEUE_NAME)
    return QueueOut(
        queue_depth=depth,
        queued_jobs=counts["queued"],
        running_jobs=counts["running"],
        live_workers=await live_worker_ids(redis),
        oldest_queued_seconds=round(max((utcnow() - oldest).total_seconds(), 0.0), 3)
        if oldest is not None
        else None,
        key_pool=await _key_pools(redis),
    )


async def _key_pools(redis: Redis) -> list[KeyPoolOut]:
    """What each worker last published about its key pool; a stopped worker's entry expires."""
    names = sorted([name async for name in redis.scan_iter(match=f"{KEY_POOL_PREFIX}*")])
    pools = []
    for raw in await redis.mget(names) if names else []:
        if raw is None:  # expired between SCAN and MGET
            continue
        try:
            pools.append(msgspec.json.decode(raw, type=KeyPoolOut))
        except msgspec.DecodeError:
            logger.warning("admin.key_pool_unreadable")
    return pools


def _out(user: User) -> AdminUserOut:
    return AdminUserOut(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=user.role,  # type: ignore[arg-type]
        disabled=user.disabled,
        monthly_budget_usd=format_usd(user.monthly_budget_usd)
        if user.monthly_budget_usd is not None
        else None,
        created_at=user.created_at,
    )


def _changes(data: AdminUserUpdate) -> dict[str, Any]:
    """The fields the request set (``null`` included), by name."""
    return {
        name: value
        for name in data.__struct_fields__
        if (value := getattr(data, name)) is not UNSET
    }
