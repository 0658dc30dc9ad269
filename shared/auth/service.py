"""Auth use cases: accounts, logins and their refresh-token families, API keys.

Every function takes the caller's unit of work (and settings when it needs them), flushes at
most and never commits: the entry point owns the transaction. Login failures share one
message whatever the cause, so responses never reveal which emails have accounts.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

import msgspec
from loguru import logger
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import passwords, repository, tokens
from shared.auth.models import ApiKey, User
from shared.auth.principal import Principal
from shared.auth.schemas import (
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    ApiKeyCreate,
    ApiKeyCreatedOut,
    ApiKeyListOut,
    ApiKeyOut,
    LoginIn,
    LogoutIn,
    PasswordChangeIn,
    RefreshIn,
    RegisterIn,
    Role,
    SessionListOut,
    SessionOut,
    TokenPairOut,
    UserOut,
    validate_email,
)
from shared.clock import utcnow
from shared.config import Settings
from shared.db.uow import UnitOfWork
from shared.errors import FieldError, NotFound, Unauthorized, ValidationFailed

INVALID_CREDENTIALS = "invalid email or password"
REFRESH_REFUSED = "invalid refresh token"


async def register(uow: UnitOfWork, data: RegisterIn) -> UserOut:
    """Create a user account with the ``user`` role.

    Raises:
        Conflict: the email is already registered.
    """
    password_hash = await passwords.hash_password_async(data.password)
    user = await repository.add_user(
        uow.session, email=data.email, password_hash=password_hash, display_name=data.display_name
    )
    return _user_out(user)


async def login(
    uow: UnitOfWork,
    settings: Settings,
    data: LoginIn,
    *,
    user_agent: str | None,
    ip: str | None,
) -> TokenPairOut:
    """Check the password and open a new session (refresh-token family) with its first pair.

    Raises:
        Unauthorized: unknown email, wrong password or disabled account (one message for all).
    """
    session = uow.session
    user = await repository.get_user_by_email(session, data.email)
    if user is None:
        await passwords.verify_dummy_async(data.password)
        raise Unauthorized(INVALID_CREDENTIALS)
    if not await passwords.verify_password_async(user.password_hash, data.password):
        raise Unauthorized(INVALID_CREDENTIALS)
    if user.disabled:
        raise Unauthorized(INVALID_CREDENTIALS)
    if passwords.needs_rehash(user.password_hash):
        # The only moment the plain password is at hand to move it to current parameters.
        new_hash = await passwords.hash_password_async(data.password)
        await repository.set_password_hash(session, user.id, new_hash)
    now = utcnow()
    family = await repository.add_session(
        session, user_id=user.id, user_agent=user_agent, ip=ip, now=now
    )
    return await _issue_pair(
        session, settings, user_id=user.id, role=user.role, session_id=family.id, now=now
    )


async def refresh(uow: UnitOfWork, settings: Settings, data: RefreshIn) -> TokenPairOut:
    """Exchange a refresh token for a new pair; the presented token dies.

    Presenting an already used token means it was copied: the whole family is revoked (in
    its own committed transaction, since this request ends in an error and rolls back).

    Raises:
        Unauthorized: unknown, used, expired or revoked token, or a disabled account.
    """
    session = uow.session
    now = utcnow()
    token_hash = tokens.hash_secret(data.refresh_token)
    consumed = await repository.consume_refresh_token(session, token_hash, now)
    if consumed is None:
        family_id = await repository.find_token_family(session, token_hash)
        if family_id is not None:
            await repository.revoke_family_durably(
                session, family_id, reason="refresh_reuse", now=now
            )
            logger.warning("auth.refresh_reuse", session_id=family_id)
        raise Unauthorized(REFRESH_REFUSED)
    owner = await repository.get_session_owner(session, consumed.session_id)
    if owner is None or owner.revoked or owner.disabled or consumed.expires_at <= now:
        raise Unauthorized(REFRESH_REFUSED)
    await repository.touch_session(session, consumed.session_id, now)
    return await _issue_pair(
        session,
        settings,
        user_id=owner.user_id,
        role=owner.role,
        session_id=consumed.session_id,
        now=now,
    )


async def logout(uow: UnitOfWork, data: LogoutIn) -> None:
    """Revoke the session the refresh token belongs to; unknown or revoked ones are a no-op.

    Holding the token is the proof of ownership, so no access token is needed.
    """
    family_id = await repository.find_token_family(
        uow.session, tokens.hash_secret(data.refresh_token)
    )
    if family_id is not None:
        await repository.revoke_family(uow.session, family_id, reason="logout", now=utcnow())


async def logout_all(uow: UnitOfWork, principal: Principal) -> None:
    """Revoke every session of the caller, the current one included.

    Raises:
        Forbidden: the caller is an API key.
    """
    principal.require_session()
    await repository.revoke_user_sessions(
        uow.session, principal.user_id, reason="logout_all", now=utcnow()
    )


async def me(uow: UnitOfWork, principal: Principal) -> UserOut:
    """The caller's account.

    Raises:
        Unauthorized: the account no longer exists.
    """
    user = await repository.get_user(uow.session, principal.user_id)
    if user is None:
        raise Unauthorized("account no longer exists")
    return _user_out(user)


async def change_password(uow: UnitOfWork, principal: Principal, data: PasswordChangeIn) -> None:
    """Replace the caller's password and revoke every session but the caller's own.

    Raises:
        Forbidden: the caller is an API key.
        ValidationFailed: ``current_password`` is wrong.
        Unauthorized: the account no longer exists.
    """
    principal.require_session()
    session = uow.session
    user = await repository.get_user(session, principal.user_id)
    if user is None:
        raise Unauthorized("account no longer exists")
    if not await passwords.verify_password_async(user.password_hash, data.current_password):
        raise ValidationFailed(errors=[FieldError("current_password", "is incorrect")])
    new_hash = await passwords.hash_password_async(data.new_password)
    await repository.set_password_hash(session, user.id, new_hash)
    await repository.revoke_user_sessions(
        session,
        user.id,
        reason="password_change",
        now=utcnow(),
        keep=principal.session_id,
    )


async def create_api_key(
    uow: UnitOfWork, principal: Principal, data: ApiKeyCreate
) -> ApiKeyCreatedOut:
    """Create an API key for the caller; the plain key is in the answer and nowhere else.

    Raises:
        Forbidden: the caller is an API key.
    """
    principal.require_session()
    secret = tokens.new_api_key()
    key = await repository.add_api_key(
        uow.session,
        user_id=principal.user_id,
        name=data.name,
        prefix=secret.prefix,
        key_hash=secret.key_hash,
        scopes=list(data.scopes or []),
        expires_at=data.expires_at,
    )
    return ApiKeyCreatedOut(**msgspec.structs.asdict(_api_key_out(key)), key=secret.key)


async def list_api_keys(uow: UnitOfWork, principal: Principal) -> ApiKeyListOut:
    """The caller's unrevoked API keys, newest first.

    Raises:
        Forbidden: the caller is an API key.
    """
    principal.require_session()
    keys = await repository.list_api_keys(uow.session, principal.user_id)
    return ApiKeyListOut(data=[_api_key_out(key) for key in keys])


async def revoke_api_key(uow: UnitOfWork, principal: Principal, key_id: str) -> None:
    """Revoke one of the caller's API keys (again is fine).

    Raises:
        Forbidden: the caller is an API key.
        NotFound: the caller has no such key (another user's is "not found" too).
    """
    principal.require_session()
    if not await repository.revoke_api_key(uow.session, principal.user_id, key_id, now=utcnow()):
        raise NotFound("API key not found")


async def list_sessions(
    uow: UnitOfWork, settings: Settings, principal: Principal
) -> SessionListOut:
    """The caller's live sessions, newest first, the current one marked.

    Raises:
        Forbidden: the caller is an API key.
    """
    principal.require_session()
    active_since = utcnow() - timedelta(seconds=settings.refresh_token_ttl)
    families = await repository.list_sessions(
        uow.session, principal.user_id, active_since=active_since
    )
    return SessionListOut(
        data=[
            SessionOut(
                id=family.id,
                created_at=family.created_at,
                last_used_at=family.last_used_at,
                user_agent=family.user_agent,
                ip=family.ip,
                current=family.id == principal.session_id,
            )
            for family in families
        ]
    )


async def revoke_session(uow: UnitOfWork, principal: Principal, session_id: str) -> None:
    """Revoke one of the caller's sessions (again is fine).

    Raises:
        Forbidden: the caller is an API key.
        NotFound: the caller has no such session.
    """
    principal.require_session()
    revoked = await repository.revoke_user_session(
        uow.session, principal.user_id, session_id, reason="user_revoked", now=utcnow()
    )
    if not revoked:
        raise NotFound("session not found")


async def create_admin(uow: UnitOfWork, settings: Settings, email: str, password: str) -> UserOut:
    """Create an admin, or promote an existing account and set its password (CLI).

    The password is set either way so the operator knows the admin's credentials; an
    existing account's sessions are revoked, as after any password change. ``settings`` is
    taken like every other entry point's, though no setting changes the outcome today.

    Raises:
        ValidationFailed: the email or password is not acceptable.
    """
    address = validate_email(email)
    if not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        raise ValidationFailed(
            errors=[
                FieldError(
                    "password",
                    f"must be {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters long",
                )
            ]
        )
    session = uow.session
    password_hash = await passwords.hash_password_async(password)
    user = await repository.get_user_by_email(session, address)
    if user is None:
        user = await repository.add_user(
            session, email=address, password_hash=password_hash, display_name=None, role="admin"
        )
        return _user_out(user)
    await repository.set_role(session, user.id, "admin")
    await repository.set_password_hash(session, user.id, password_hash)
    await repository.revoke_user_sessions(session, user.id, reason="password_reset", now=utcnow())
    return _user_out(user)


async def _issue_pair(
    session: AsyncSession,
    settings: Settings,
    *,
    user_id: str,
    role: str,
    session_id: str,
    now: datetime,
) -> TokenPairOut:
    refresh_token = tokens.new_refresh_token()
    await repository.add_refresh_token(
        session,
        session_id=session_id,
        token_hash=tokens.hash_secret(refresh_token),
        expires_at=now + timedelta(seconds=settings.refresh_token_ttl),
    )
    access_token = tokens.create_access_token(
        settings, user_id=user_id, role=role, session_id=session_id, now=now
    )
    return TokenPairOut(
        access_token=access_token,
        refresh_token=refresh_token,
        expires_in=settings.access_token_ttl,
    )


def _user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        email=user.email,
        display_name=user.display_name,
        role=cast("Role", user.role),  # the table's CHECK constraint allows only roles
        created_at=user.created_at,
    )


def _api_key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        scopes=list(key.scopes) or None,
        expires_at=key.expires_at,
        created_at=key.created_at,
        last_used_at=key.last_used_at,
    )
