"""Access JWTs (HS256 only, kid rotation, strict claims), refresh tokens and API keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import timedelta

import jwt
import pytest

from shared.auth import tokens
from shared.clock import utcnow
from shared.config import Settings, load_settings
from shared.errors import TokenExpired, Unauthorized
from shared.ids import new_id

# 64 bytes, so PyJWT has no key-length warning even for the HS512 attempt below.
NEW_SECRET = "new-signing-secret-" + "0123456789abcdefghijklmnopqrstuvwxyz" + "ABCDEFGHIJ"
OLD_SECRET = "old-signing-secret-0123456789abcdefghijkl"
USER = "usr_01HZY3K8Q5V7W9X2M4N6P8R0ST"  # pragma: allowlist secret
SESSION = "ses_01HZY3K8Q5V7W9X2M4N6P8R0SV"  # pragma: allowlist secret
BASE_ENV = {
    "DATABASE_URL": "postgresql://ghostpen:pw@db.internal:5432/ghostpen",
    "REDIS_URL": "redis://cache:6379/0",
}


def make_settings(keys: str = f"new:{NEW_SECRET},old:{OLD_SECRET}", **extra: str) -> Settings:
    return load_settings({**BASE_ENV, "JWT_KEYS": keys, **extra})


@pytest.fixture
def settings() -> Settings:
    return make_settings()


def claims(settings: Settings, **overrides: object) -> dict[str, object]:
    now = int(utcnow().timestamp())
    base: dict[str, object] = {
        "sub": USER,
        "role": "user",
        "typ": "access",
        "jti": "a" * 32,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + 600,
        "sid": SESSION,
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def sign(payload: dict[str, object], secret: str = NEW_SECRET, **header: object) -> str:
    return jwt.encode(payload, secret, algorithm="HS256", headers={"kid": "new", **header})


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def refused(settings: Settings, token: str) -> Unauthorized:
    with pytest.raises(Unauthorized) as caught:
        tokens.decode_access_token(settings, token)
    assert type(caught.value) is Unauthorized  # not TokenExpired
    assert caught.value.detail == "invalid access token"  # nothing about why
    return caught.value


def test_access_token_round_trip_carries_the_contract_claims(settings: Settings) -> None:
    now = utcnow()
    token = tokens.create_access_token(
        settings, user_id=USER, role="admin", session_id=SESSION, now=now
    )
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256"
    assert header["kid"] == "new"
    decoded = tokens.decode_access_token(settings, token)
    assert decoded.sub == USER
    assert decoded.role == "admin"
    assert decoded.sid == SESSION
    assert decoded.typ == "access"
    assert re.fullmatch(r"[0-9a-f]{32}", decoded.jti)
    assert decoded.iat == int(now.timestamp())
    assert decoded.exp - decoded.iat == settings.access_token_ttl
    raw = jwt.decode(token, options={"verify_signature": False})
    assert raw["iss"] == settings.jwt_issuer
    assert raw["aud"] == settings.jwt_audience


def test_every_token_has_its_own_jti(settings: Settings) -> None:
    first, second = (
        tokens.decode_access_token(
            settings,
            tokens.create_access_token(
                settings, user_id=new_id("usr"), role="user", session_id=new_id("ses")
            ),
        )
        for _ in range(2)
    )
    assert first.jti != second.jti
    assert first.sub != second.sub  # new ids have the shape the tokens require


def test_a_retired_signing_key_still_verifies_while_configured() -> None:
    before = make_settings(f"old:{OLD_SECRET}")
    after = make_settings(f"new:{NEW_SECRET},old:{OLD_SECRET}")
    token = tokens.create_access_token(before, user_id=USER, role="user", session_id=SESSION)
    assert tokens.decode_access_token(after, token).sub == USER
    assert (
        jwt.get_unverified_header(
            tokens.create_access_token(after, user_id=USER, role="user", session_id=SESSION)
        )["kid"]
        == "new"
    )
    refused(make_settings(f"new:{NEW_SECRET}"), token)  # once dropped, it is refused


def test_expired_token_raises_token_expired(settings: Settings) -> None:
    now = int(utcnow().timestamp())
    token = sign(claims(settings, iat=now - 3600, exp=now - 60))
    with pytest.raises(TokenExpired) as caught:
        tokens.decode_access_token(settings, token)
    assert caught.value.code == "token_expired"
    assert caught.value.status == 401


def test_small_clock_skew_is_tolerated(settings: Settings) -> None:
    now = int(utcnow().timestamp())
    assert tokens.decode_access_token(settings, sign(claims(settings, iat=now + 3))).sub == USER


def test_expired_and_forged_is_just_unauthorized(settings: Settings) -> None:
    now = int(utcnow().timestamp())
    refused(settings, sign(claims(settings, exp=now - 60), secret="x" * 40))


def test_alg_none_is_refused(settings: Settings) -> None:
    header = {"alg": "none", "typ": "JWT", "kid": "new"}
    refused(settings, f"{b64(header)}.{b64(claims(settings))}.")
    refused(settings, f"{b64(header)}.{b64(claims(settings))}")


def test_other_algorithms_are_refused_even_with_the_right_key(settings: Settings) -> None:
    token = jwt.encode(claims(settings), NEW_SECRET, algorithm="HS512", headers={"kid": "new"})
    refused(settings, token)


def test_forged_signature_is_refused(settings: Settings) -> None:
    refused(settings, sign(claims(settings), secret="attacker-secret-0123456789abcdefghijkl"))
    valid = sign(claims(settings))
    body, _, signature = valid.rpartition(".")
    tampered = body + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    refused(settings, tampered)


def test_unknown_or_missing_kid_is_refused(settings: Settings) -> None:
    refused(settings, sign(claims(settings), kid="nope"))
    refused(settings, jwt.encode(claims(settings), NEW_SECRET, algorithm="HS256"))
    signing_input = f"{b64({'alg': 'HS256', 'kid': ['new']})}.{b64(claims(settings))}"
    mac = hmac.new(NEW_SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    refused(settings, f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}")


def test_wrong_audience_or_issuer_is_refused(settings: Settings) -> None:
    refused(settings, sign(claims(settings, aud="someone-else")))
    refused(settings, sign(claims(settings, aud=[settings.jwt_audience, "other"])))
    refused(settings, sign(claims(settings, iss="https://evil.example")))


@pytest.mark.parametrize(
    "missing", ["exp", "iat", "sub", "jti", "iss", "aud", "role", "typ", "sid"]
)
def test_every_required_claim_must_be_present(settings: Settings, missing: str) -> None:
    payload = claims(settings)
    del payload[missing]
    refused(settings, sign(payload))


def test_claims_of_the_wrong_kind_are_refused(settings: Settings) -> None:
    refused(settings, sign(claims(settings, typ="refresh")))
    refused(settings, sign(claims(settings, role="root")))
    refused(settings, sign(claims(settings, sub=42)))
    refused(settings, sign(claims(settings, jti=42)))
    refused(settings, sign(claims(settings, iat=int(utcnow().timestamp()) + 3600)))


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("sub", "usr_\x00"),  # was a 500: Postgres refuses NUL bytes
        ("sub", USER[:-1] + "\x00"),
        ("sub", USER + "\n"),
        ("sub", USER.lower()),
        ("sub", USER[:-1] + "U"),  # not in the ULID alphabet
        ("sub", "usr_8" + USER[5:]),  # a time past the ULID range
        ("sub", USER + "0"),
        ("sub", SESSION),
        ("sub", "usr_nobody"),
        ("sid", USER),
        ("sid", ""),
        ("sid", 1),
        ("sid", None),
    ],
)
def test_ids_must_have_the_shape_the_server_issues(
    settings: Settings, claim: str, value: object
) -> None:
    payload = claims(settings) | {claim: value}  # None stays: a JSON null
    refused(settings, sign(payload))


@pytest.mark.parametrize(
    "garbage",
    ["", "abc", "a.b.c", "...", "e30.e30.", "ünïcode.tökén.x", "x" * 5000, "e30." * 3],
)
def test_garbage_is_unauthorized_never_a_crash(settings: Settings, garbage: str) -> None:
    refused(settings, garbage)


def test_refresh_tokens_are_random_and_stored_as_sha256() -> None:
    first, second = tokens.new_refresh_token(), tokens.new_refresh_token()
    assert first != second
    assert len(first) >= 43
    assert tokens.hash_secret(first) == hashlib.sha256(first.encode()).hexdigest()
    assert tokens.hash_secret(first) != tokens.hash_secret(second)


def test_api_keys_have_the_documented_shape() -> None:
    secret = tokens.new_api_key()
    assert re.fullmatch(r"gp_[A-Za-z0-9_-]{40}", secret.key)
    assert secret.prefix == secret.key[:12]
    assert secret.key_hash == hashlib.sha256(secret.key.encode()).hexdigest()
    assert tokens.is_api_key(secret.key)
    assert not tokens.is_api_key("eyJhbGciOiJIUzI1NiJ9.e30.sig")
    assert tokens.new_api_key().key != secret.key


def test_token_lifetime_follows_settings() -> None:
    settings = make_settings(ACCESS_TOKEN_TTL="5m")
    now = utcnow()
    token = tokens.create_access_token(
        settings, user_id=USER, role="user", session_id=SESSION, now=now - timedelta(minutes=4)
    )
    decoded = tokens.decode_access_token(settings, token)
    assert decoded.exp - decoded.iat == 300
