"""Auth services against Postgres: races, durable revocation, rehashing, cheap authentication."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import event, text

from shared.audit.schemas import ClientInfo
from shared.auth import passwords, service
from shared.auth.principal import authenticate
from shared.auth.schemas import ApiKeyCreate, LoginIn, RefreshIn, RegisterIn, TokenPairOut
from shared.clock import utcnow
from shared.config import Settings
from shared.db.engine import Database
from shared.db.uow import UnitOfWork
from shared.errors import Unauthorized, ValidationFailed

PASSWORD = "correct horse battery staple"
CLIENT = ClientInfo(ip="::1", user_agent="t")

UowFactory = Callable[[], UnitOfWork]


@pytest.fixture
async def account(uow_factory: UowFactory, db: Database) -> tuple[str, str]:
    """A registered user: (user id, email); asking for ``db`` gets the tables truncated after."""
    address = f"svc-{uuid.uuid4().hex[:10]}@example.com"
    async with uow_factory() as uow:
        user = await service.register(uow, RegisterIn(email=address, password=PASSWORD))
        await uow.commit()
    return user.id, address


async def login(uow_factory: UowFactory, settings: Settings, address: str) -> TokenPairOut:
    async with uow_factory() as uow:
        pair = await service.login(
            uow, settings, LoginIn(email=address, password=PASSWORD), client=CLIENT
        )
        await uow.commit()
    return pair


async def scalar(db: Database, statement: str, **params: Any) -> Any:
    async with db.engine.connect() as connection:
        return (await connection.execute(text(statement), params)).scalar_one()


@contextmanager
def counting_statements(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


async def test_second_refresh_waits_for_the_first_and_then_loses(
    uow_factory: UowFactory, settings: Settings, db: Database, account: tuple[str, str]
) -> None:
    _, address = account
    pair = await login(uow_factory, settings, address)
    first = uow_factory()
    winner = await service.refresh(
        first, settings, RefreshIn(refresh_token=pair.refresh_token), client=CLIENT
    )

    async def second_refresh() -> TokenPairOut:
        async with uow_factory() as uow:
            result = await service.refresh(
                uow, settings, RefreshIn(refresh_token=pair.refresh_token), client=CLIENT
            )
            await uow.commit()
            return result

    loser = asyncio.create_task(second_refresh())
    await asyncio.sleep(0.3)
    assert not loser.done()  # blocked on the first transaction's row lock, not guessing
    await first.commit()
    await first.__aexit__(None, None, None)
    with pytest.raises(Unauthorized):
        await loser
    # The reuse revocation survived the loser's rollback, and took the winner's pair with it.
    reason = await scalar(
        db,
        "SELECT s.revoke_reason FROM auth_sessions s JOIN refresh_tokens t ON t.session_id = s.id"
        " WHERE t.token_hash = encode(sha256(convert_to(:token, 'UTF8')), 'hex')",
        token=winner.refresh_token,
    )
    assert reason == "refresh_reuse"
    async with uow_factory() as uow:
        with pytest.raises(Unauthorized):
            await service.refresh(
                uow, settings, RefreshIn(refresh_token=winner.refresh_token), client=CLIENT
            )


async def test_if_the_first_refresh_rolls_back_the_second_wins(
    uow_factory: UowFactory, settings: Settings, account: tuple[str, str]
) -> None:
    _, address = account
    pair = await login(uow_factory, settings, address)
    first = uow_factory()
    await service.refresh(
        first, settings, RefreshIn(refresh_token=pair.refresh_token), client=CLIENT
    )

    async def second_refresh() -> TokenPairOut:
        async with uow_factory() as uow:
            result = await service.refresh(
                uow, settings, RefreshIn(refresh_token=pair.refresh_token), client=CLIENT
            )
            await uow.commit()
            return result

    task = asyncio.create_task(second_refresh())
    await asyncio.sleep(0.2)
    await first.rollback()
    await first.__aexit__(None, None, None)
    assert (await task).refresh_token != pair.refresh_token


async def test_login_moves_old_hashes_to_current_parameters(
    uow_factory: UowFactory, settings: Settings, db: Database, account: tuple[str, str]
) -> None:
    user_id, address = account
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    async with db.engine.begin() as connection:
        await connection.execute(
            text("UPDATE users SET password_hash = :h WHERE id = :id"), {"h": weak, "id": user_id}
        )
    await login(uow_factory, settings, address)
    stored = await scalar(db, "SELECT password_hash FROM users WHERE id = :id", id=user_id)
    assert stored != weak
    assert not passwords.needs_rehash(stored)
    assert passwords.verify_password(stored, PASSWORD)


async def test_create_admin_creates_then_promotes(
    uow_factory: UowFactory, settings: Settings, db: Database, account: tuple[str, str]
) -> None:
    async with uow_factory() as uow:
        created = await service.create_admin(
            uow, settings, " Root@Example.com ", PASSWORD, client=CLIENT
        )
        await uow.commit()
    assert created.role == "admin"
    assert created.email == "root@example.com"

    user_id, address = account
    pair = await login(uow_factory, settings, address)
    async with uow_factory() as uow:
        promoted = await service.create_admin(
            uow, settings, address, "operator chosen secret", client=CLIENT
        )
        await uow.commit()
    assert promoted.id == user_id
    assert promoted.role == "admin"
    async with uow_factory() as uow:
        with pytest.raises(Unauthorized):  # its sessions ended with the password reset
            await service.refresh(
                uow, settings, RefreshIn(refresh_token=pair.refresh_token), client=CLIENT
            )

    async with uow_factory() as uow:
        with pytest.raises(ValidationFailed) as caught:
            await service.create_admin(uow, settings, "nobody", "short", client=CLIENT)
    assert [error.field for error in caught.value.errors] == ["email"]
    async with uow_factory() as uow:
        with pytest.raises(ValidationFailed) as caught:
            await service.create_admin(uow, settings, "ok@example.com", "short", client=CLIENT)
    assert [error.field for error in caught.value.errors] == ["password"]


async def test_authentication_costs_one_query_for_a_jwt(
    uow_factory: UowFactory, settings: Settings, db: Database, account: tuple[str, str]
) -> None:
    _, address = account
    pair = await login(uow_factory, settings, address)
    async with db.sessions() as session:
        with counting_statements(db) as statements:
            principal = await authenticate(session, settings, f"Bearer {pair.access_token}")
    assert principal.session_id is not None
    assert principal.scopes is None
    assert len(statements) == 1, statements


async def test_api_key_use_is_recorded_at_most_once_a_minute(
    uow_factory: UowFactory, settings: Settings, db: Database, account: tuple[str, str]
) -> None:
    user_id, address = account
    pair = await login(uow_factory, settings, address)
    async with uow_factory() as uow:
        principal = await authenticate(uow.session, settings, f"Bearer {pair.access_token}")
        created = await service.create_api_key(
            uow, principal, ApiKeyCreate(name="ci", scopes=["jobs:read"]), client=CLIENT
        )
        await uow.commit()

    async def use_key() -> list[str]:
        async with db.sessions() as session:
            with counting_statements(db) as statements:
                key_principal = await authenticate(session, settings, f"Bearer {created.key}")
            await session.commit()
        assert key_principal.user_id == user_id
        assert key_principal.api_key_id == created.id
        assert key_principal.scopes == frozenset({"jobs:read"})
        return statements

    assert len(await use_key()) == 2  # lookup + first touch
    first_use = await scalar(db, "SELECT last_used_at FROM api_keys WHERE id = :id", id=created.id)
    assert first_use is not None
    assert len(await use_key()) == 1  # touched moments ago: read only
    assert (
        await scalar(db, "SELECT last_used_at FROM api_keys WHERE id = :id", id=created.id)
        == first_use
    )

    async with db.engine.begin() as connection:
        await connection.execute(
            text("UPDATE api_keys SET last_used_at = :t WHERE id = :id"),
            {"t": utcnow() - timedelta(minutes=2), "id": created.id},
        )
    assert len(await use_key()) == 2
    latest = await scalar(db, "SELECT last_used_at FROM api_keys WHERE id = :id", id=created.id)
    assert latest > first_use
