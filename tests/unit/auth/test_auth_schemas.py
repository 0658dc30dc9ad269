"""Auth request bodies: bounds, normalisation, field errors; the principal's checks."""

from __future__ import annotations

from datetime import timedelta

import msgspec
import pytest

from shared.auth.principal import Principal
from shared.auth.schemas import SCOPES, ApiKeyCreate, LoginIn, RegisterIn
from shared.clock import utcnow
from shared.errors import FieldError, Forbidden, ValidationFailed

PASSWORD = "correct horse battery staple"


def register(**fields: object) -> RegisterIn:
    return msgspec.json.decode(
        msgspec.json.encode({"email": "a@example.com", "password": PASSWORD, **fields}),
        type=RegisterIn,
    )


def api_key(**fields: object) -> ApiKeyCreate:
    return msgspec.json.decode(msgspec.json.encode({"name": "ci", **fields}), type=ApiKeyCreate)


def field_errors(caught: pytest.ExceptionInfo[ValidationFailed]) -> list[FieldError]:
    assert caught.value.code == "validation_error"
    return caught.value.errors


def test_email_is_stripped_and_lower_cased() -> None:
    assert register(email="  Ada.Lovelace@Example.COM ").email == "ada.lovelace@example.com"
    assert (
        msgspec.convert({"email": " Ada@Example.com", "password": "x"}, LoginIn).email
        == "ada@example.com"
    )


@pytest.mark.parametrize(
    "email",
    [
        "plain",
        "@example.com",
        "ab@",
        "a@b",
        "a b@example.com",
        "a@@example.com",
        "a@example..com",
        "a@-example.com",
        "a@exa\nmple.com",
        "a\x00b@example.com",
        "x" * 65 + "@example.com",
    ],
)
def test_malformed_email_is_a_field_error(email: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        register(email=email)
    assert field_errors(caught) == [FieldError("email", "is not a valid email address")]


@pytest.mark.parametrize(
    "email", ["a@example.com", "first.last+tag@mail.example.co.uk", "ü@bücher.de"]
)
def test_ordinary_addresses_are_accepted(email: str) -> None:
    assert register(email=email).email == email


def test_password_bounds_and_unknown_fields_are_enforced_by_the_decoder() -> None:
    with pytest.raises(msgspec.ValidationError, match="password"):
        register(password="short")
    with pytest.raises(msgspec.ValidationError, match="password"):
        register(password="x" * 257)
    with pytest.raises(msgspec.ValidationError, match="role"):
        register(role="admin")
    assert register(password="x" * 256).password == "x" * 256


def test_display_name_blank_means_none() -> None:
    assert register(display_name="  ").display_name is None
    assert register(display_name=" Ada ").display_name == "Ada"


def test_api_key_scopes_are_known_deduplicated_and_never_empty() -> None:
    assert api_key().scopes is None
    assert api_key(scopes=["jobs:write", "jobs:read", "jobs:write"]).scopes == [
        "jobs:read",
        "jobs:write",
    ]
    with pytest.raises(msgspec.ValidationError):
        api_key(scopes=["jobs:delete"])
    with pytest.raises(msgspec.ValidationError):
        api_key(scopes=[])  # would read as "everything"; omit the field for that
    assert len(SCOPES) == 11
    assert "schedules:write" in SCOPES


def test_api_key_expiry_must_be_aware_and_in_the_future() -> None:
    future = utcnow() + timedelta(days=1)
    assert api_key(expires_at=future.isoformat()).expires_at == future
    with pytest.raises(ValidationFailed) as caught:
        api_key(expires_at=(utcnow() - timedelta(seconds=1)).isoformat(), name="  ")
    assert {error.field for error in field_errors(caught)} == {"expires_at", "name"}
    with pytest.raises(msgspec.ValidationError):
        api_key(expires_at=future.replace(tzinfo=None).isoformat())


def test_principal_checks() -> None:
    user = Principal(user_id="usr_1", role="user", session_id="ses_1")
    scoped = Principal(
        user_id="usr_1", role="user", scopes=frozenset({"jobs:read"}), api_key_id="key_1"
    )
    unscoped_key = Principal(user_id="usr_1", role="user", api_key_id="key_2")
    admin = Principal(user_id="usr_2", role="admin")

    user.require_scope("jobs:write")
    unscoped_key.require_scope("jobs:write")
    scoped.require_scope("jobs:read")
    with pytest.raises(Forbidden):
        scoped.require_scope("jobs:write")

    user.require_session()
    for key in (scoped, unscoped_key):
        with pytest.raises(Forbidden):
            key.require_session()

    assert admin.is_admin
    assert not user.is_admin
    admin.require_admin()
    with pytest.raises(Forbidden):
        user.require_admin()
