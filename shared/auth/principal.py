"""Who is calling: the authenticated principal, from an access JWT or an API key.

Both paths re-read the user on every request (one primary-key lookup, joined with the
session or key row), so disabling a user, revoking a key or ending a session takes effect on
the very next request instead of when a token expires.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import repository, tokens
from shared.auth.schemas import Role, Scope
from shared.billing.budget import Owner
from shared.clock import utcnow
from shared.config import Settings
from shared.errors import Forbidden, Unauthorized

# Record an API key's last use at most this often: a write per request would cost more than
# the request itself and serialise a busy key's requests on one row.
API_KEY_TOUCH_INTERVAL = timedelta(minutes=1)


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """The caller. ``scopes`` None = all of the owner's rights (a JWT or an unscoped key)."""

    user_id: str
    role: Role
    scopes: frozenset[str] | None = None
    session_id: str | None = None
    api_key_id: str | None = None
    # Read with the user on every request, so job submissions need no query of their own.
    monthly_budget_usd: Decimal | None = None

    @property
    def owner(self) -> Owner:
        """The caller as the payer of the jobs they submit."""
        return Owner(user_id=self.user_id, monthly_budget_usd=self.monthly_budget_usd)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def require_scope(self, scope: Scope) -> None:
        """Refuse an API key that was not granted ``scope``.

        Raises:
            Forbidden: the caller is an API key without ``scope``.
        """
        if self.scopes is not None and scope not in self.scopes:
            raise Forbidden(f"this API key lacks the {scope} scope")

    def require_admin(self) -> None:
        """Refuse callers without the admin role.

        Raises:
            Forbidden: the caller's role is not ``admin``.
        """
        if not self.is_admin:
            raise Forbidden("admin role required")

    def require_session(self) -> None:
        """Refuse API keys: managing credentials needs a signed-in user.

        Raises:
            Forbidden: the caller is an API key.
        """
        if self.api_key_id is not None:
            raise Forbidden("API keys cannot manage credentials; sign in with a password")


async def authenticate(
    session: AsyncSession, settings: Settings, authorization: str | None
) -> Principal:
    """Resolve ``Authorization: Bearer <access JWT | gp_ API key>`` to a principal.

    Raises:
        Unauthorized: missing or malformed header; unknown, revoked or expired key; invalid
            token; revoked session; missing or disabled user.
        TokenExpired: a valid access token past its ``exp``.
    """
    scheme, _, credential = (authorization or "").strip().partition(" ")
    token = credential.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("missing or malformed Authorization header; expected Bearer <token>")
    if tokens.is_api_key(token):
        return await _authenticate_api_key(session, token)
    return await _authenticate_access_token(session, settings, token)


async def _authenticate_access_token(
    session: AsyncSession, settings: Settings, token: str
) -> Principal:
    claims = tokens.decode_access_token(settings, token)
    access = await repository.check_access(session, claims.sub, claims.sid)
    if access is None or access.disabled:
        raise Unauthorized("invalid access token")
    if not access.session_active:
        raise Unauthorized("session has been revoked; sign in again")
    # The role comes from the database, so a demotion applies before the token expires.
    return Principal(
        user_id=claims.sub,
        role=access.role,
        session_id=claims.sid,
        monthly_budget_usd=access.monthly_budget_usd,
    )


async def _authenticate_api_key(session: AsyncSession, key: str) -> Principal:
    if len(key) > tokens.MAX_TOKEN_LENGTH:
        raise Unauthorized("invalid API key")
    credential = await repository.find_api_key(session, tokens.hash_secret(key))
    now = utcnow()
    if (
        credential is None
        or credential.disabled
        or credential.revoked_at is not None
        or (credential.expires_at is not None and credential.expires_at <= now)
    ):
        raise Unauthorized("invalid API key")
    if credential.last_used_at is None or credential.last_used_at <= now - API_KEY_TOUCH_INTERVAL:
        await repository.touch_api_key(
            session, credential.id, now=now, min_interval=API_KEY_TOUCH_INTERVAL
        )
    return Principal(
        user_id=credential.user_id,
        role=credential.role,
        scopes=frozenset(credential.scopes) if credential.scopes else None,
        api_key_id=credential.id,
        monthly_budget_usd=credential.monthly_budget_usd,
    )
