"""Accounts, logins, sessions and API keys.

Register, login, refresh and logout take no access token (the refresh token is the
credential of the last two); everything else needs one. API keys may read ``/me`` but not
manage credentials: the service refuses them with 403.
"""

from __future__ import annotations

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.openapi.spec import SecurityRequirement
from litestar.params import FromPath, JSONBody

from gateway.dependencies import Anonymous
from gateway.openapi import PROBLEMS
from shared import errors
from shared.audit.schemas import ClientInfo
from shared.auth import service
from shared.auth.principal import Principal
from shared.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreatedOut,
    ApiKeyListOut,
    LoginIn,
    LogoutIn,
    PasswordChangeIn,
    RefreshIn,
    RegisterIn,
    SessionListOut,
    TokenPairOut,
    UserOut,
)
from shared.config import Settings
from shared.db.uow import UnitOfWork

BEARER: tuple[SecurityRequirement, ...] = ({"BearerAuth": []},)


class AuthController(Controller):
    # Handlers without a principal take `anonymous`: resolving it spends the IP's rate limit.
    path = "/auth"
    tags = ("auth",)

    @post("/register", opt={PROBLEMS: (errors.Conflict,)}, summary="Create an account")
    async def register(
        self,
        data: JSONBody[RegisterIn],
        uow: NamedDependency[UnitOfWork],
        anonymous: NamedDependency[Anonymous],
    ) -> UserOut:
        """Raises Conflict (409) for a registered email, ValidationFailed (422) for bad input."""
        return await service.register(uow, data)

    @post(
        "/login",
        status_code=200,
        opt={PROBLEMS: (errors.Unauthorized,)},
        summary="Sign in: a new session and its token pair",
    )
    async def login(
        self,
        data: JSONBody[LoginIn],
        uow: NamedDependency[UnitOfWork],
        settings: NamedDependency[Settings],
        anonymous: NamedDependency[Anonymous],
        client: NamedDependency[ClientInfo],
    ) -> TokenPairOut:
        """Raises Unauthorized (401) with one message for every kind of failure, RateLimited
        (429) while the email or the client's address is locked after repeated failures."""
        return await service.login(uow, settings, data, client=client)

    @post(
        "/refresh",
        status_code=200,
        opt={PROBLEMS: (errors.Unauthorized,)},
        summary="Exchange a refresh token for a new pair",
    )
    async def refresh(
        self,
        data: JSONBody[RefreshIn],
        uow: NamedDependency[UnitOfWork],
        settings: NamedDependency[Settings],
        anonymous: NamedDependency[Anonymous],
        client: NamedDependency[ClientInfo],
    ) -> TokenPairOut:
        """Raises Unauthorized (401); a reused token also revokes its whole session.
        RateLimited (429) while the client's address is locked after repeated failures."""
        return await service.refresh(uow, settings, data, client=client)

    @post("/logout", status_code=204, summary="End the session of a refresh token")
    async def logout(
        self,
        data: JSONBody[LogoutIn],
        uow: NamedDependency[UnitOfWork],
        anonymous: NamedDependency[Anonymous],
        client: NamedDependency[ClientInfo],
    ) -> None:
        """Always 204: an unknown or already revoked token is nothing to end."""
        await service.logout(uow, data, client=client)

    @post("/logout-all", status_code=204, security=BEARER, summary="End all your sessions")
    async def logout_all(
        self,
        uow: NamedDependency[UnitOfWork],
        principal: NamedDependency[Principal],
        client: NamedDependency[ClientInfo],
    ) -> None:
        """Raises Forbidden (403) for API keys."""
        await service.logout_all(uow, principal, client=client)

    @post("/password", status_code=204, security=BEARER, summary="Change your password")
    async def change_password(
        self,
        data: JSONBody[PasswordChangeIn],
        uow: NamedDependency[UnitOfWork],
        principal: NamedDependency[Principal],
        client: NamedDependency[ClientInfo],
    ) -> None:
        """Ends every other session. Raises ValidationFailed (422) for a wrong current
        password, Forbidden (403) for API keys."""
        await service.change_password(uow, principal, data, client=client)


class MeController(Controller):
    path = "/me"
    tags = ("auth",)
    security = BEARER

    @get(summary="Your account")
    async def me(
        self, uow: NamedDependency[UnitOfWork], principal: NamedDependency[Principal]
    ) -> UserOut:
        """Raises Unauthorized (401) if the account is gone."""
        return await service.me(uow, principal)


class ApiKeyController(Controller):
    path = "/api-keys"
    tags = ("api-keys",)
    security = BEARER

    @post(summary="Create an API key (the key is shown only in this answer)")
    async def create(
        self,
        data: JSONBody[ApiKeyCreate],
        uow: NamedDependency[UnitOfWork],
        principal: NamedDependency[Principal],
        client: NamedDependency[ClientInfo],
    ) -> ApiKeyCreatedOut:
        """Raises Forbidden (403) for API keys, ValidationFailed (422) for bad input."""
        return await service.create_api_key(uow, principal, data, client=client)

    @get(summary="List your API keys")
    async def list_keys(
        self, uow: NamedDependency[UnitOfWork], principal: NamedDependency[Principal]
    ) -> ApiKeyListOut:
        """Raises Forbidden (403) for API keys."""
        return await service.list_api_keys(uow, principal)

    @delete("/{key_id:str}", summary="Revoke an API key")
    async def revoke(
        self,
        key_id: FromPath[str],
        uow: NamedDependency[UnitOfWork],
        principal: NamedDependency[Principal],
        client: NamedDependency[ClientInfo],
    ) -> None:
        """Raises NotFound (404) for another user's or an unknown key, Forbidden (403) for
        API keys."""
        await service.revoke_api_key(uow, principal, key_id, client=client)


class SessionController(Controller):
    path = "/sessions"
    tags = ("auth",)
    security = BEARER

    @get(summary="List your sessions (signed-in devices)")
    async def list_sessions(
        self,
        uow: NamedDependency[UnitOfWork],
        settings: NamedDependency[Settings],
        principal: NamedDependency[Principal],
    ) -> SessionListOut:
        """Raises Forbidden (403) for API keys."""
        return await service.list_sessions(uow, settings, principal)

    @delete("/{session_id:str}", summary="End one of your sessions")
    async def revoke(
        self,
        session_id: FromPath[str],
        uow: NamedDependency[UnitOfWork],
        principal: NamedDependency[Principal],
        client: NamedDependency[ClientInfo],
    ) -> None:
        """Raises NotFound (404) for another user's or an unknown session, Forbidden (403)
        for API keys."""
        await service.revoke_session(uow, principal, session_id, client=client)
