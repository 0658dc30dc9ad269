"""Auth use cases: accounts, logins and their refresh-token families, API keys.

Every function takes the caller's unit of work (and settings when it needs them), flushes at
most and never commits: the entry point owns the transaction. Login failures share one
message whatever the cause, so responses never reveal which emails have accounts.

Security events go to the audit log in the caller's transaction, so they commit with the
action; those of requests that end in an error (a failed login, a reused refresh token) go
through ``UnitOfWork.abandon``, a transaction of their own, since the request's rolls back.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal, NoReturn, cast

import msgspec
from loguru import logger
from sqlalchemy.ext.asyncio import AsyncSession

from shared.audit import service as audit
from shared.audit.schemas import AuditAction, ClientInfo
from shared.auth import lockout, passwords, repository, tokens
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

LoginFailure = Literal["unknown_email", "wrong_password", "disabled"]


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
    uow: UnitOfWork, settings: Settings, data: LoginIn, *, client: ClientInfo
) -> TokenPairOut:
    """Check the password and open a new session (refresh-token family) with its first pair.

    The attempt is counted against the email and the client's address before the password is
    checked, so a locked account or address costs no hash and concurrent guesses cannot
    outrun the count; unknown emails are counted and locked like registered ones.

    Raises:
        RateLimited: too many recent failures, or attempts in flight, for this email or this
            client's address.
        Unauthorized: unknown email, wrong password or disabled account (one message for all).
    """
    session = uow.session
    async with lockout.attempt(uow.redis, settings, email=data.email, ip=client.ip) as attempt:
        user = await repository.get_user_by_email(session, data.email)
        if user is None:
            await passwords.verify_dummy_async(data.password)
            await _refuse_login(uow, attempt, data.email, None, client, "unknown_email")
        if not await passwords.verify_password_async(user.password_hash, data.password):
            await _refuse_login(uow, attempt, data.email, user.id, client, "wrong_password")
        if user.disabled:
            await _refuse_login(uow, attempt, data.email, user.id, client, "disabled")
        await attempt.succeed()
    if passwords.needs_rehash(user.password_hash):
        # The only moment the plain password is at hand to move it to current parameters.
        new_hash = await passwords.hash_password_async(data.password)
        await repository.set_password_hash(session, user.id, new_hash)
    now = utcnow()
    family = await repository.add_session(
        session, user_id=user.id, user_agent=client.user_agent, ip=client.ip, now=now
    )
    await audit.record(
        session,
        "auth.login_succeeded",
        client,
        actor_user_id=user.id,
        target_user_id=user.id,
        details={"session_id": family.id},
    )
    return await _issue_pair(
        session, settings, user_id=user.id, role=user.role, session_id=family.id, now=now
    )


async def refresh(
    uow: UnitOfWork, settings: Settings, data: RefreshIn, *, client: ClientInfo
) -> TokenPairOut:
    """Exchange a refresh token for a new pair; the presented token dies.

    Presenting an already used token means it was copied: the whole family is revoked (in
    its own committed transaction, since this request ends in an error and rolls back).
    Refusals count against the client's address like failed logins.

    Raises:
        RateLimited: too many recent failures, or attempts in flight, from this client's
            address.
        Unauthorized: unknown, used, expired or revoked token, or a disabled account.
    """
    session = uow.session
    now = utcnow()
    token_hash = tokens.hash_secret(data.refresh_token)
    async with lockout.attempt(uow.redis, settings, email=None, ip=client.ip) as attempt:
        consumed = await repository.consume_refresh_token(session, token_hash, now)
        if consumed is None:
            family_id = await repository.find_token_family(session, token_hash)
            if family_id is not None:
                await _revoke_reused_family(uow, family_id, client, now)
            await _refuse_refresh(uow, attempt, client)
        owner = await repository.get_session_owner(session, consumed.session_id)
        if owner is None or owner.revoked or owner.disabled or consumed.expires_at <= now:
            await _refuse_refresh(uow, attempt, client)
        await attempt.succeed()
    await repository.touch_session(session, consumed.session_id, now)
    return await _issue_pair(
        session,
        settings,
        user_id=owner.user_id,
        role=owner.role,
        session_id=consumed.session_id,
        now=now,
    )


async def logout(uow: UnitOfWork, data: LogoutIn, *, client: ClientInfo) -> None:
    """Revoke the session the refresh token belongs to; unknown or revoked ones are a no-op.

    Holding the token is the proof of ownership, so no access token is needed. Only a session
    actually ended is audited: a no-op records nothing, like any request that changes nothing.
    """
    session = uow.session
    family_id = await repository.find_token_family(session, tokens.hash_secret(data.refresh_token))
    if family_id is None:
        return
    user_id = await repository.revoke_family(session, family_id, reason="logout", now=utcnow())
    if user_id is not None:
        await audit.record(
            session,
            "auth.logout",
            client,
            actor_user_id=user_id,
            target_user_id=user_id,
            details={"session_id": family_id},
        )


async def logout_all(uow: UnitOfWork, principal: Principal, *, client: ClientInfo) -> None:
    """Revoke every session of the caller, the current one included.

    Raises:
        Forbidden: the caller is an API key.
    """
    principal.require_session()
    await repository.revoke_user_sessions(
        uow.session, principal.user_id, reason="logout_all", now=utcnow()
    )
    await _record_own(uow, principal, "auth.logout_all", client)


async def me(uow: UnitOfWork, principal: Principal) -> UserOut:
    """The caller's account.

    Raises:
        Unauthorized: the account no longer exists.
    """
    user = await repository.get_user(uow.session, principal.user_id)
    if user is None:
        raise Unauthorized("account no longer exists")
    return _user_out(user)


async def change_password(
    uow: UnitOfWork, principal: Principal, data: PasswordChangeIn, *, client: ClientInfo
) -> None:
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
    await _record_own(uow, principal, "auth.password_changed", client)


async def create_api_key(
    uow: UnitOfWork, principal: Principal, data: ApiKeyCreate, *, client: ClientInfo
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
    details = {
        "api_key_id": key.id,
        "name": key.name,
        "scopes": data.scopes,
        "expires_at": data.expires_at.isoformat() if data.expires_at else None,
    }
    await _record_own(uow, principal, "api_key.created", client, details)
    return ApiKeyCreatedOut(**msgspec.structs.asdict(_api_key_out(key)), key=secret.key)


async def list_api_keys(uow: UnitOfWork, principal: Principal) -> ApiKeyListOut:
    """The caller's unrevoked API keys, newest first.

    Raises:
        Forbidden: the caller is an API key.
    """
    principal.require_session()
    keys = await repository.list_api_keys(uow.session, principal.user_id)
    return ApiKeyListOut(data=[_api_key_out(key) for key in keys])


async def revoke_api_key(
    uow: UnitOfWork, principal: Principal, key_id: str, *, client: ClientInfo
) -> None:
    """Revoke one of the caller's API keys (again is fine).

    Raises:
        Forbidden: the caller is an API key.
        NotFound: the caller has no such key (another user's is "not found" too).
    """
    principal.require_session()
    if not await repository.revoke_api_key(uow.session, principal.user_id, key_id, now=utcnow()):
        raise NotFound("API key not found")
    await _record_own(uow, principal, "api_key.revoked", client, {"api_key_id": key_id})


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


async def revoke_session(
    uow: UnitOfWork, principal: Principal, session_id: str, *, client: ClientInfo
) -> None:
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
    await _record_own(uow, principal, "session.revoked", client, {"session_id": session_id})


async def create_admin(
    uow: UnitOfWork, settings: Settings, email: str, password: str, *, client: ClientInfo
) -> UserOut:
    """Create an admin, or promote an existing account and set its password (CLI).

    The password is set either way so the operator knows the admin's credentials; an
    existing account's sessions are revoked, as after any password change. Audited with no
    actor (whoever runs the command holds the database credentials, not an account).
    ``settings`` is taken like every other entry point's, though no setting changes the
    outcome today.

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
    details: dict[str, Any]
    if user is None:
        user = await repository.add_user(
            session, email=address, password_hash=password_hash, display_name=None, role="admin"
        )
        details = {"created": True}
    else:
        details = {"created": False, "previous_role": user.role}
        await repository.set_role(session, user.id, "admin")
        await repository.set_password_hash(session, user.id, password_hash)
        await repository.revoke_user_sessions(
            session, user.id, reason="password_reset", now=utcnow()
        )
    await audit.record(
        session,
        "admin.created",
        client,
        actor_user_id=None,
        target_user_id=user.id,
        details=details,
    )
    return _user_out(user)


async def _refuse_login(
    uow: UnitOfWork,
    attempt: lockout.Attempt,
    email: str,
    user_id: str | None,
    client: ClientInfo,
    reason: LoginFailure,
) -> NoReturn:
    """Count the failure, audit it and any lock it starts, then refuse with the one message.

    Raises:
        Unauthorized: always.
    """
    locks = await attempt.fail()
    # The email field may hold a mistyped password: keep it only if it looks like an address.
    shown_email = email if _looks_like_email(email) else None
    async with uow.abandon() as own:
        await audit.record(
            own,
            "auth.login_failed",
            client,
            actor_user_id=user_id,
            target_user_id=user_id,
            details={"reason": reason, "email": shown_email},
        )
        await _record_locks(own, locks, client, user_id=user_id, email=shown_email)
    logger.info("auth.login_failed", user_id=user_id, reason=reason, ip=client.ip)
    raise Unauthorized(INVALID_CREDENTIALS)


async def _revoke_reused_family(
    uow: UnitOfWork, family_id: str, client: ClientInfo, now: datetime
) -> None:
    """Revoke a session whose used refresh token came back, durably: the request fails."""
    async with uow.abandon() as own:
        await repository.revoke_family(own, family_id, reason="refresh_reuse", now=now)
        owner = await repository.get_session_owner(own, family_id)
        owner_id = owner.user_id if owner else None
        await audit.record(
            own,
            "auth.refresh_reused",
            client,
            actor_user_id=owner_id,
            target_user_id=owner_id,
            details={"session_id": family_id},
        )
    logger.warning("auth.refresh_reuse", session_id=family_id)


async def _refuse_refresh(
    uow: UnitOfWork, attempt: lockout.Attempt, client: ClientInfo
) -> NoReturn:
    """Count the failure against the client's address, audit a lock it starts, refuse.

    Raises:
        Unauthorized: always.
    """
    locks = await attempt.fail()
    if locks:
        async with uow.abandon() as own:
            await _record_locks(own, locks, client, user_id=None, email=None)
    raise Unauthorized(REFRESH_REFUSED)


async def _record_locks(
    session: AsyncSession,
    locks: list[lockout.Lock],
    client: ClientInfo,
    *,
    user_id: str | None,
    email: str | None,
) -> None:
    """An account lock names the account tried; an address lock only the address."""
    for lock in locks:
        details: dict[str, Any] = {"scope": lock.scope, "lock_seconds": lock.seconds}
        account = user_id if lock.scope == "account" else None
        if lock.scope == "account":
            details["email"] = email
        await audit.record(
            session,
            "auth.login_locked",
            client,
            actor_user_id=account,
            target_user_id=account,
            details=details,
        )
        logger.warning(
            "auth.login_locked",
            scope=lock.scope,
            seconds=lock.seconds,
            user_id=account,
            ip=client.ip,
        )


async def _record_own(
    uow: UnitOfWork,
    principal: Principal,
    action: AuditAction,
    client: ClientInfo,
    details: dict[str, Any] | None = None,
) -> None:
    """Audit something callers did to their own account."""
    await audit.record(
        uow.session,
        action,
        client,
        actor_user_id=principal.user_id,
        target_user_id=principal.user_id,
        details=details,
    )


def _looks_like_email(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationFailed:
        return False
    return True


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
