"""Request and response bodies of the auth endpoints.

Inputs refuse unknown fields and carry their bounds in ``Meta`` so msgspec rejects bad input
while decoding; the few rules msgspec cannot express (email shape, an expiry in the future)
raise :class:`ValidationFailed` from ``__post_init__``, which the decoder lets through.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal, get_args

import msgspec
from msgspec import Meta

from shared.clock import utcnow
from shared.errors import FieldError, ValidationFailed

PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 256
EMAIL_MAX_LENGTH = 320
TOKEN_MAX_LENGTH = 256

Role = Literal["user", "admin"]
Scope = Literal[
    "jobs:read",
    "jobs:write",
    "profiles:read",
    "profiles:write",
    "usage:read",
    "webhooks:read",
    "webhooks:write",
    "batches:read",
    "batches:write",
    "schedules:read",
    "schedules:write",
]
SCOPES: frozenset[str] = frozenset(get_args(Scope))

# A sane shape, not RFC 5322: one @, no spaces or control characters, a dotted domain whose
# labels neither start nor end with a hyphen. Unicode letters are allowed (IDN domains).
_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
_EMAIL = re.compile(rf"[^@\s\x00-\x1f\x7f\"(),:;<>\[\\\]]{{1,64}}@(?:{_LABEL}\.)+{_LABEL}")

Email = Annotated[str, Meta(min_length=3, max_length=EMAIL_MAX_LENGTH, examples=["a@example.com"])]
NewPassword = Annotated[str, Meta(min_length=PASSWORD_MIN_LENGTH, max_length=PASSWORD_MAX_LENGTH)]
# Any stored password is within the new-password bounds; a looser minimum on the way in
# keeps a wrong guess an authentication failure rather than a validation error.
Password = Annotated[str, Meta(min_length=1, max_length=PASSWORD_MAX_LENGTH)]
OpaqueToken = Annotated[str, Meta(min_length=1, max_length=TOKEN_MAX_LENGTH)]


def normalize_email(value: str) -> str:
    """Strip and lower-case an address so one mailbox maps to one account."""
    return value.strip().lower()


def validate_email(value: str, field: str = "email") -> str:
    """Return the normalised address.

    Raises:
        ValidationFailed: the address does not look like one.
    """
    email = normalize_email(value)
    if len(email) > EMAIL_MAX_LENGTH or not _EMAIL.fullmatch(email):
        raise ValidationFailed(errors=[FieldError(field, "is not a valid email address")])
    return email


class RegisterIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    email: Email
    password: NewPassword
    display_name: Annotated[str, Meta(max_length=100)] | None = None

    def __post_init__(self) -> None:
        self.email = validate_email(self.email)
        if self.display_name is not None:
            self.display_name = self.display_name.strip() or None


class LoginIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    email: Annotated[str, Meta(max_length=EMAIL_MAX_LENGTH)]
    password: Password

    def __post_init__(self) -> None:
        # No shape check: a malformed address simply matches no account (same 401).
        self.email = normalize_email(self.email)


class RefreshIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    refresh_token: OpaqueToken


class LogoutIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    refresh_token: OpaqueToken


class PasswordChangeIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    current_password: Password
    new_password: NewPassword


class TokenPairOut(msgspec.Struct, kw_only=True):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int


class UserOut(msgspec.Struct, kw_only=True):
    id: str
    email: str
    display_name: str | None
    role: Role
    created_at: datetime


class ApiKeyCreate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``scopes`` omitted (or null) = all of the owner's rights; an empty list is refused."""

    name: Annotated[str, Meta(min_length=1, max_length=100)]
    scopes: Annotated[list[Scope], Meta(min_length=1, max_length=len(SCOPES))] | None = None
    expires_at: Annotated[datetime, Meta(tz=True)] | None = None

    def __post_init__(self) -> None:
        errors = []
        self.name = self.name.strip()
        if not self.name:
            errors.append(FieldError("name", "must not be blank"))
        if self.scopes is not None:
            self.scopes = sorted(set(self.scopes))
        if self.expires_at is not None and self.expires_at <= utcnow():
            errors.append(FieldError("expires_at", "must be in the future"))
        if errors:
            raise ValidationFailed(errors=errors)


class ApiKeyOut(msgspec.Struct, kw_only=True):
    """``scopes`` null = the key has all of the owner's rights."""

    id: str
    name: str
    prefix: str
    scopes: list[str] | None
    expires_at: datetime | None
    created_at: datetime
    last_used_at: datetime | None


class ApiKeyCreatedOut(ApiKeyOut, kw_only=True):
    """The new key; ``key`` is shown this once and cannot be retrieved again."""

    key: str


class ApiKeyListOut(msgspec.Struct, kw_only=True):
    data: list[ApiKeyOut]


class SessionOut(msgspec.Struct, kw_only=True):
    """One login (refresh-token family); ``current`` marks the caller's own."""

    id: str
    created_at: datetime
    last_used_at: datetime
    user_agent: str | None
    ip: str | None
    current: bool = False


class SessionListOut(msgspec.Struct, kw_only=True):
    data: list[SessionOut]
