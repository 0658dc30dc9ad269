"""Configuration: every problem reported at once, X_FILE secrets, production refusals."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path

import pytest

from shared.config import ConfigError, load_settings, normalize_database_url

BASE = {
    "DATABASE_URL": "postgresql://ghostpen:pw@db.internal:5432/ghostpen",
    "REDIS_URL": "redis://cache:6379/0",
}
STRONG = hashlib.sha256(b"a strong secret").hexdigest()[:48]
PRODUCTION = {**BASE, "GHOSTPEN_ENV": "production", "JWT_SECRET": STRONG, "OPENAI_API_KEYS": "sk-a"}


def example_value(name: str) -> str:
    """The value .env.example gives ``name``."""
    lines = (Path(__file__).resolve().parents[2] / ".env.example").read_text().splitlines()
    return next(line.partition("=")[2] for line in lines if line.startswith(f"{name}="))


def problems(environ: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ)
    return caught.value.problems


def test_minimal_development_config_uses_safe_defaults() -> None:
    settings = load_settings(BASE)
    assert settings.env == "development"
    assert settings.database_url == "postgresql+asyncpg://ghostpen:pw@db.internal:5432/ghostpen"
    assert settings.offline_generation
    assert settings.access_token_ttl == 900
    assert settings.log_format == "console"
    assert settings.max_body_bytes == 1024 * 1024
    # A burst queues for a pooled connection; an unreachable Postgres is a quick 503.
    assert (settings.db_pool_timeout, settings.db_connect_timeout) == (5.0, 0.8)


def test_every_problem_is_reported_on_its_own_line() -> None:
    found = problems({"DB_POOL_SIZE": "lots", "ACCESS_TOKEN_TTL": "-1", "LOG_FORMAT": "xml"})
    joined = "\n".join(found)
    for name in ("DATABASE_URL", "REDIS_URL", "DB_POOL_SIZE", "ACCESS_TOKEN_TTL", "LOG_FORMAT"):
        assert name in joined
    assert len(found) == 5


def test_file_variant_reads_container_secrets(tmp_path: Path) -> None:
    secret = tmp_path / "jwt"
    secret.write_text(STRONG + "\n")
    keys = tmp_path / "keys"
    keys.write_text("sk-one,sk-two")
    settings = load_settings(
        {**BASE, "JWT_SECRET_FILE": str(secret), "OPENAI_API_KEYS_FILE": str(keys)}
    )
    assert settings.jwt_keys[0].secret == STRONG
    assert settings.openai_api_keys == ("sk-one", "sk-two")


def test_unreadable_secret_file_is_a_clear_problem(tmp_path: Path) -> None:
    found = problems({**BASE, "JWT_SECRET_FILE": str(tmp_path / "missing")})
    assert found == [
        f"JWT_SECRET_FILE: cannot read '{tmp_path / 'missing'}' (No such file or directory)"
    ]


def test_production_refuses_defaults_wildcard_cors_and_missing_model_key() -> None:
    found = problems({**BASE, "GHOSTPEN_ENV": "production", "ALLOWED_ORIGINS": "*"})
    joined = "\n".join(found)
    assert "JWT_SECRET: required" in joined
    assert "ALLOWED_ORIGINS: wildcard" in joined
    assert "OPENAI_API_KEYS: required in production" in joined


def test_production_refuses_short_secret() -> None:
    found = problems(
        {**BASE, "GHOSTPEN_ENV": "production", "JWT_SECRET": "short", "OPENAI_API_KEYS": "sk-x"}
    )
    assert any("shorter than 32" in problem for problem in found)


def test_production_refuses_the_example_secrets_placeholders() -> None:
    """Every CHANGE-ME of deploy/k8s/secret.example.yaml, applied unedited, is refused."""
    found = problems(
        {
            **PRODUCTION,
            "DATABASE_URL": "postgresql://ghostpen:CHANGE-ME-db-password@db:5432/ghostpen",
            "DATABASE_READ_URL": "postgresql://ghostpen:change_me@replica:5432/ghostpen",
            "REDIS_URL": "redis://:CHANGE-ME-redis-password@redis:6379/0",
            "JWT_KEYS": f"new:CHANGE-ME-{STRONG}",
            "OPENAI_API_KEYS": "CHANGE-ME-sk-key-1,CHANGE-ME-sk-key-2",
        }
    )
    assert [problem.split(":")[0] for problem in found] == [
        "JWT_KEYS",
        "DATABASE_URL",
        "DATABASE_READ_URL",
        "REDIS_URL",
        "OPENAI_API_KEYS",
    ]
    assert all("CHANGE-ME placeholder" in problem for problem in found)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("JWT_SECRET", example_value("JWT_SECRET")),
        ("JWT_KEYS", f"old:{STRONG},new:{'x' * 40}"),
        ("JWT_KEYS", f"new:{'ab' * 20}"),
        ("JWT_SECRET", "password" * 4 + "2024"),
        ("JWT_SECRET", "Secret-Secret-Secret-Secret-123!"),
        ("GHOSTPEN_ADMIN_PASSWORD", "admin password 123"),
        ("GHOSTPEN_ADMIN_PASSWORD", "Password2024!"),
        ("GHOSTPEN_ADMIN_PASSWORD", "changeme123"),
        ("GHOSTPEN_ADMIN_PASSWORD", "zzzzzzzzzzzz"),
    ],
)
def test_production_refuses_guessable_secrets(variable: str, value: str) -> None:
    found = problems({**PRODUCTION, variable: value})
    assert len(found) == 1
    assert found[0].startswith(f"{variable}:")


def test_guessable_secrets_are_accepted_outside_production() -> None:
    settings = load_settings(
        {**BASE, "JWT_SECRET": "x" * 40, "GHOSTPEN_ADMIN_PASSWORD": "admin password 123"}
    )
    assert settings.admin_password == "admin password 123"


def test_production_accepts_a_strong_setup() -> None:
    settings = load_settings(
        {
            **BASE,
            "GHOSTPEN_ENV": "production",
            "JWT_SECRET": STRONG,
            "OPENAI_API_KEYS": "sk-a,sk-b",
            "ALLOWED_ORIGINS": "https://app.example.com",
            "GHOSTPEN_ADMIN_PASSWORD": "correct horse battery staple",
        }
    )
    assert settings.is_production
    assert settings.log_format == "json"
    assert settings.allowed_origins == ("https://app.example.com",)


def test_key_set_rotation_first_key_signs() -> None:
    settings = load_settings({**BASE, "JWT_KEYS": f"new:{STRONG},old:{'o' * 40}"})
    assert [key.kid for key in settings.jwt_keys] == ["new", "old"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u@h:5432/db", "postgresql+asyncpg://u@h:5432/db"),
        ("postgres://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("postgresql://u:p%40ss@h/db", "postgresql+asyncpg://u:p%40ss@h/db"),
        (
            "postgresql://postgres@/ghostpen?host=/var/run/postgresql",
            "postgresql+asyncpg://postgres@/ghostpen?host=%2Fvar%2Frun%2Fpostgresql",
        ),
        ("postgresql://u@h/db?sslmode=require", "postgresql+asyncpg://u@h/db?ssl=require"),
    ],
)
def test_database_url_forms_are_converted_for_asyncpg(url: str, expected: str) -> None:
    assert normalize_database_url(url) == expected


@pytest.mark.parametrize("url", ["mysql://u@h/db", "postgresql://u@h:5432", "postgresql:///db"])
def test_bad_database_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        normalize_database_url(url)


def test_model_prices_extend_the_table() -> None:
    settings = load_settings(
        {**BASE, "MODEL_PRICES": '{"house-model": {"prompt": "1", "completion": "2"}}'}
    )
    price = settings.price_for("house-model")
    assert price is not None
    assert price.cached_prompt == Decimal("1")
    assert settings.price_for("gpt-4o-mini") is not None
    assert "MODEL_PRICES" in problems({**BASE, "MODEL_PRICES": "not json"})[0]


def test_rate_tables_and_proxies_are_validated() -> None:
    found = problems({**BASE, "RATE_LIMITS": "user=lots", "TRUSTED_PROXIES": "10.0.0.0/8,nope"})
    assert any(problem.startswith("RATE_LIMITS") for problem in found)
    assert any(problem.startswith("TRUSTED_PROXIES") for problem in found)


def test_rate_tables_name_known_roles_and_keep_defaults_for_the_others() -> None:
    settings = load_settings({**BASE, "RATE_LIMITS": "user=5/second", "SUBMIT_RATE_LIMITS": ""})
    assert settings.rate_limits == {
        "anonymous": "30/minute",
        "user": "5/second",
        "admin": "3000/minute",
    }
    assert settings.submit_rate_limits == {"user": "60/minute", "admin": "600/minute"}
    found = problems(
        {**BASE, "RATE_LIMITS": "usr=5/second", "SUBMIT_RATE_LIMITS": "anonymous=1/day"}
    )
    assert any(p.startswith("RATE_LIMITS") and "'usr'" in p for p in found)
    assert any(p.startswith("SUBMIT_RATE_LIMITS") and "'anonymous'" in p for p in found)


def test_the_configured_model_is_selectable_even_without_a_price() -> None:
    settings = load_settings({**BASE, "OPENAI_MODEL": "house-model"})
    assert "house-model" in settings.selectable_models
    assert "gpt-4o-mini" in settings.selectable_models
    assert settings.price_for("house-model") is None


def test_login_lockout_settings_default_and_validate() -> None:
    defaults = load_settings(BASE)
    assert (defaults.login_max_failures_per_account, defaults.login_max_failures_per_ip) == (5, 20)
    assert (defaults.login_lock_seconds, defaults.login_failure_window) == (60, 900)
    tuned = load_settings({**BASE, "LOGIN_LOCK_SECONDS": "30s", "LOGIN_FAILURE_WINDOW": "1h"})
    assert (tuned.login_lock_seconds, tuned.login_failure_window) == (30, 3600)
    found = problems({**BASE, "LOGIN_MAX_FAILURES_PER_ACCOUNT": "0", "LOGIN_LOCK_SECONDS": "soon"})
    assert [line.split(":")[0] for line in found] == [
        "LOGIN_MAX_FAILURES_PER_ACCOUNT",
        "LOGIN_LOCK_SECONDS",
    ]


def test_audit_retention_defaults_to_400_days_and_refuses_under_30() -> None:
    assert load_settings(BASE).audit_retention == 400 * 86400
    assert load_settings({**BASE, "AUDIT_RETENTION": "30d"}).audit_retention == 30 * 86400
    assert load_settings({**BASE, "AUDIT_RETENTION": "2000h"}).audit_retention == 2000 * 3600
    assert problems({**BASE, "AUDIT_RETENTION": "29d"}) == [
        "AUDIT_RETENTION: must be at least 30d, got '29d'"
    ]
    [unreadable] = problems({**BASE, "AUDIT_RETENTION": "1y"})
    assert unreadable.startswith("AUDIT_RETENTION: expected seconds or a duration")
