"""Access JWTs, opaque refresh tokens and API keys.

Access tokens are HS256 JWTs naming their signing key (``kid``): the first configured key
signs, every configured key verifies, so keys rotate without logging anyone out. Refresh
tokens and API keys are random strings the server keeps only as SHA-256 digests; they carry
enough entropy (256 and 240 bits) that a fast hash is safe and a lookup by digest is exact.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Literal

import jwt
import msgspec

from shared import ids
from shared.auth.schemas import Role
from shared.clock import utcnow
from shared.config import Settings
from shared.errors import TokenExpired, Unauthorized

ALGORITHM = "HS256"
# Tolerated clock difference between gateway instances when checking ``iat`` and ``exp``.
LEEWAY_SECONDS = 10
# Far above any token this module issues; refuses oversized input before parsing it.
MAX_TOKEN_LENGTH = 4096
API_KEY_MARKER = "gp_"
API_KEY_PREFIX_LENGTH = 12
_API_KEY_RANDOM_BYTES = 30  # 40 url-safe characters
_REQUIRED_CLAIMS = ["exp", "iat", "sub", "jti", "iss", "aud"]


class AccessClaims(msgspec.Struct, frozen=True, kw_only=True):
    """The claims an access token must carry; ``sid`` names its login session.

    Ids must have the exact shape the server issues: a signed token is trusted for its
    signature, not for what its values would do in a query (a NUL byte was a 500), and a
    token without its session could not be revoked by logging out.
    """

    sub: Annotated[str, ids.shape("usr")]
    role: Role
    typ: Literal["access"]
    jti: str
    iat: int
    exp: int
    sid: Annotated[str, ids.shape("ses")]


class ApiKeySecret(msgspec.Struct, frozen=True):
    """A new API key: ``key`` is shown once; only ``prefix`` and ``key_hash`` are stored."""

    key: str
    prefix: str
    key_hash: str


def create_access_token(
    settings: Settings,
    *,
    user_id: str,
    role: str,
    session_id: str,
    now: datetime | None = None,
) -> str:
    """Sign an access token with the current key, valid for ``ACCESS_TOKEN_TTL`` seconds."""
    issued = now or utcnow()
    key = settings.jwt_keys[0]
    claims: dict[str, object] = {
        "sub": user_id,
        "role": role,
        "typ": "access",
        "jti": uuid.uuid4().hex,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": int(issued.timestamp()),
        "exp": int((issued + timedelta(seconds=settings.access_token_ttl)).timestamp()),
        "sid": session_id,
    }
    return jwt.encode(claims, key.secret, algorithm=ALGORITHM, headers={"kid": key.kid})


def decode_access_token(settings: Settings, token: str) -> AccessClaims:
    """Verify signature, algorithm, key id, issuer, audience and lifetime; return the claims.

    Every claim of :class:`AccessClaims` must be present and of its exact shape.

    Raises:
        TokenExpired: a genuine token whose ``exp`` has passed.
        Unauthorized: anything else (details are not revealed to the caller).
    """
    if len(token) > MAX_TOKEN_LENGTH:
        raise Unauthorized("invalid access token")
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        secret = next((key.secret for key in settings.jwt_keys if key.kid == kid), None)
        if secret is None:
            raise Unauthorized("invalid access token")
        payload = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": _REQUIRED_CLAIMS, "strict_aud": True},
        )
        return msgspec.convert(payload, AccessClaims)
    except jwt.ExpiredSignatureError:
        # Raised only after the signature checked out, so this reveals nothing to a forger.
        raise TokenExpired("access token has expired") from None
    except (jwt.PyJWTError, msgspec.ValidationError):
        raise Unauthorized("invalid access token") from None


def hash_secret(secret: str) -> str:
    """SHA-256 hex digest under which refresh tokens and API keys are stored and looked up."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_refresh_token() -> str:
    """An opaque single-use refresh token (256 random bits)."""
    return secrets.token_urlsafe(32)


def new_api_key() -> ApiKeySecret:
    """``gp_`` + 40 url-safe characters; the marker lets the gateway tell keys from JWTs."""
    key = API_KEY_MARKER + secrets.token_urlsafe(_API_KEY_RANDOM_BYTES)
    return ApiKeySecret(key=key, prefix=key[:API_KEY_PREFIX_LENGTH], key_hash=hash_secret(key))


def is_api_key(token: str) -> bool:
    """Whether a bearer credential is an API key (JWTs never start with the marker)."""
    return token.startswith(API_KEY_MARKER)
