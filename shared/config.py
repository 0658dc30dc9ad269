"""One typed settings object, read once from the environment at start-up.

Every variable ``X`` may instead be given as ``X_FILE`` naming a file that holds it (container
secrets). Loading collects every problem before failing, so an operator sees one line per bad
or missing value instead of fixing them one restart at a time.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import msgspec

Environment = Literal["development", "test", "production"]
LogFormat = Literal["json", "console"]

DEV_JWT_SECRET = "ghostpen-development-secret-change-me-0000"  # noqa: S105 - refused in production
MIN_SECRET_LENGTH = 32
DEFAULT_RATE_LIMITS = "anonymous=30/minute,user=300/minute,admin=3000/minute"
DEFAULT_SUBMIT_RATE_LIMITS = "user=60/minute,admin=600/minute"
# Delay before each delivery attempt: immediately, then backing off for more than 24 h.
DEFAULT_WEBHOOK_RETRY_SCHEDULE = "0,5s,5m,30m,2h,5h,10h,14h,20h,24h"
RATE_PATTERN = re.compile(r"^(?P<count>\d+)/(?P<period>second|minute|hour|day)$")
# Production refuses the secrets an attacker tries first: the CHANGE-ME placeholders of
# deploy/k8s/secret.example.yaml, values made of default words and digits ("admin123",
# "Password2024!"), and a few characters repeated ("xxxx...", "abababab...").
PLACEHOLDER = re.compile(r"(?<![a-z])change[-_ ]?me(?![a-z])", re.IGNORECASE)
DEFAULT_WORDS = re.compile(
    r"(?:admin|administrator|password|passw0rd|ghostpen|root|secret|default|letmein|qwerty"
    r"|welcome|changeme|test|\d)+"
)
MIN_DISTINCT_CHARACTERS = 8
# Audit events are pruned after AUDIT_RETENTION: over a year by default, so a yearly review
# still sees its whole year; never under a month, so an incident is found before its trail.
DEFAULT_AUDIT_RETENTION = "400d"
MIN_AUDIT_RETENTION = "30d"

T = TypeVar("T")
D = TypeVar("D")


class ConfigError(Exception):
    """Raised with every configuration problem found, one per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class ModelPrice(msgspec.Struct, frozen=True):
    """USD per one million tokens; cached prompt tokens are billed at their own rate."""

    prompt: Decimal
    completion: Decimal
    cached_prompt: Decimal


class SigningKey(msgspec.Struct, frozen=True):
    """An HMAC key for JWTs; ``kid`` lets old keys verify while a new one signs."""

    kid: str
    secret: str


# Public list prices (USD per 1M tokens) for the default models; extend with MODEL_PRICES.
DEFAULT_MODEL_PRICES: dict[str, ModelPrice] = {
    "gpt-4o-mini": ModelPrice(Decimal("0.15"), Decimal("0.60"), Decimal("0.075")),
    "gpt-4o": ModelPrice(Decimal("2.50"), Decimal("10.00"), Decimal("1.25")),
    "gpt-4.1-mini": ModelPrice(Decimal("0.40"), Decimal("1.60"), Decimal("0.10")),
    "gpt-4.1": ModelPrice(Decimal("2.00"), Decimal("8.00"), Decimal("0.50")),
    "ghostpen-offline": ModelPrice(Decimal("0"), Decimal("0"), Decimal("0")),
}


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Validated configuration shared by the gateway, the workers and the CLI."""

    env: Environment
    database_url: str
    database_read_url: str | None
    db_pool_size: int
    db_max_overflow: int
    db_pool_timeout: float
    db_connect_timeout: float
    db_pool_pre_ping: bool
    db_statement_timeout_ms: int
    redis_url: str
    jwt_keys: tuple[SigningKey, ...]
    jwt_issuer: str
    jwt_audience: str
    access_token_ttl: int
    refresh_token_ttl: int
    openai_api_keys: tuple[str, ...]
    openai_base_url: str | None
    openai_model: str
    openai_timeout: float
    # Set when the keys come from OPENAI_API_KEYS_FILE: workers re-read it when it changes.
    openai_api_keys_file: str | None
    model_key_cooldown: float
    model_breaker_threshold: int
    model_breaker_cooloff: int
    model_breaker_max_cooloff: int
    model_prices: dict[str, ModelPrice]
    allowed_origins: tuple[str, ...]
    rate_limits: dict[str, str]
    submit_rate_limits: dict[str, str]
    trusted_proxies: tuple[str, ...]
    login_max_failures_per_account: int
    login_max_failures_per_ip: int
    login_lock_seconds: int
    login_failure_window: int
    webhook_allow_private_networks: bool
    webhook_timeout: float
    webhook_retry_schedule: tuple[float, ...]
    webhook_secret_grace: int
    idempotency_ttl: int
    audit_retention: int
    schedule_misfire_grace: int
    max_body_bytes: int
    job_max_attempts: int
    job_deadline: int
    job_lease_seconds: int
    job_timeout: float
    worker_concurrency: int
    worker_poll_delay: float
    worker_drain_timeout: int
    log_level: str
    log_format: LogFormat
    admin_password: str | None

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def offline_generation(self) -> bool:
        """No model key: generation uses the clearly labelled offline backend."""
        return not self.openai_api_keys

    @property
    def selectable_models(self) -> frozenset[str]:
        """Models a job may ask for: the priced ones (billable) and the configured default."""
        return frozenset(self.model_prices) | {self.openai_model}

    def price_for(self, model: str) -> ModelPrice | None:
        return self.model_prices.get(model)


class _Reader:
    """Reads raw values (``X`` or ``X_FILE``) and records problems instead of raising."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: list[str] = []

    def raw(self, name: str) -> str | None:
        file_name = self.environ.get(f"{name}_FILE")
        if file_name:
            if name in self.environ:
                self.problems.append(f"{name}: set both {name} and {name}_FILE; choose one")
            try:
                return Path(file_name).read_text(encoding="utf-8").strip()
            except OSError as exc:
                self.problems.append(f"{name}_FILE: cannot read {file_name!r} ({exc.strerror})")
                return None
        value = self.environ.get(name)
        return value.strip() if value is not None else None

    def get(self, name: str, parse: Callable[[str], T], default: D) -> T | D:
        value = self.raw(name)
        if value is None or value == "":
            return default
        try:
            return parse(value)
        except ValueError as exc:
            self.problems.append(f"{name}: {exc}")
            return default

    def required(self, name: str, parse: Callable[[str], T], hint: str) -> T | None:
        value = self.raw(name)
        if not value:
            self.problems.append(f"{name}: required ({hint})")
            return None
        try:
            return parse(value)
        except ValueError as exc:
            self.problems.append(f"{name}: {exc}")
            return None


def _whole_number(minimum: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise ValueError(f"expected a whole number, got {value!r}") from None
        if number < minimum:
            raise ValueError(f"must be at least {minimum}, got {number}")
        return number

    return parse


_positive_int = _whole_number(1)
_non_negative_int = _whole_number(0)


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"expected a number, got {value!r}") from None
    if not number > 0:
        raise ValueError(f"must be greater than 0, got {value}")
    return number


def _duration(value: str) -> int:
    """Seconds, or a number with a unit suffix: ``900``, ``15m``, ``30d``."""
    match = re.fullmatch(r"(\d+)\s*([smhd]?)", value)
    if not match:
        raise ValueError(f"expected seconds or a duration like 15m, 12h, 30d; got {value!r}")
    factor = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    seconds = int(match.group(1)) * factor
    if seconds <= 0:
        raise ValueError("must be greater than 0")
    return seconds


def _duration_at_least(minimum: str) -> Callable[[str], int]:
    """A duration no shorter than ``minimum`` (itself written as a duration)."""
    floor = _duration(minimum)

    def parse(value: str) -> int:
        seconds = _duration(value)
        if seconds < floor:
            raise ValueError(f"must be at least {minimum}, got {value!r}")
        return seconds

    return parse


def _delays(value: str) -> tuple[float, ...]:
    """Comma-separated delays, each seconds or a number with a unit: ``0,5s,5m,2h,0.5``."""
    delays = []
    for item in _csv(value):
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhd]?)", item)
        if not match:
            raise ValueError(f"expected delays like 0,5s,5m,2h; got {item!r}")
        delays.append(
            float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
        )
    if not delays:
        raise ValueError("expected at least one delay")
    return tuple(delays)


def _boolean(value: str) -> bool:
    lowered = value.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _csv(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def parse_key_list(value: str) -> tuple[str, ...]:
    """API keys separated by commas or whitespace (a keys file may hold one per line)."""
    return tuple(re.split(r"[\s,]+", value.strip())) if value.strip() else ()


def _choice(*choices: str) -> Callable[[str], Any]:
    def parse(value: str) -> str:
        lowered = value.lower()
        if lowered not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}; got {value!r}")
        return lowered

    return parse


def _rate_table(default: str, *roles: str) -> Callable[[str], dict[str, str]]:
    """``role=N/period`` pairs, e.g. ``user=300/minute,admin=3000/minute``, over ``default``.

    A role left out keeps its default rate, so naming one role never unthrottles the others.
    """

    def parse(value: str) -> dict[str, str]:
        table: dict[str, str] = {}
        for item in _csv(value):
            role, sep, rate = (part.strip() for part in item.partition("="))
            if not sep or not RATE_PATTERN.match(rate):
                raise ValueError(f"expected role=N/second|minute|hour|day pairs, got {item!r}")
            if role not in roles:
                raise ValueError(f"unknown role {role!r}; expected {', '.join(roles)}")
            table[role] = rate
        return table

    defaults = parse(default)
    return lambda value: {**defaults, **parse(value)}


def _cidrs(value: str) -> tuple[str, ...]:
    networks = []
    for item in _csv(value):
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ValueError(f"not an IP network: {item!r}") from None
    return tuple(networks)


def _origins(value: str) -> tuple[str, ...]:
    origins = _csv(value)
    for origin in origins:
        if origin != "*" and not re.fullmatch(r"https?://[^/\s]+", origin):
            raise ValueError(f"expected origins like https://app.example.com, got {origin!r}")
    return origins


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError(f"expected an http(s) URL, got {value!r}")
    return value.rstrip("/")


def _redis_url(value: str) -> str:
    if urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
        raise ValueError("expected redis://, rediss:// or unix:// URL")
    return value


def _model_prices(value: str) -> dict[str, ModelPrice]:
    """JSON ``{"model": {"prompt": "0.15", "completion": "0.6", "cached_prompt": "0.075"}}``."""
    try:
        raw = msgspec.json.decode(value, type=dict[str, dict[str, str | float | int]])
        prices = {}
        for model, entry in raw.items():
            prompt = Decimal(str(entry["prompt"]))
            prices[model] = ModelPrice(
                prompt=prompt,
                completion=Decimal(str(entry["completion"])),
                cached_prompt=Decimal(str(entry.get("cached_prompt", prompt))),
            )
    except (msgspec.ValidationError, msgspec.DecodeError, KeyError, InvalidOperation) as exc:
        raise ValueError(f"expected JSON of per-model USD prices per 1M tokens ({exc})") from None
    return prices


def _single_key(value: str) -> tuple[SigningKey, ...]:
    """One secret; its key id is derived from it so tokens name the key that signed them."""
    digest = hashlib.sha256(value.encode()).hexdigest()[:12]
    return (SigningKey(kid=f"k{digest}", secret=value),)


def _key_set(value: str) -> tuple[SigningKey, ...]:
    """``kid1:secret1,kid2:secret2``: the first key signs, every key verifies (rotation)."""
    keys = []
    for item in _csv(value):
        kid, sep, secret = item.partition(":")
        if not sep or not kid.strip() or not secret.strip():
            raise ValueError("expected kid:secret pairs separated by commas")
        keys.append(SigningKey(kid=kid.strip(), secret=secret.strip()))
    if len({key.kid for key in keys}) != len(keys):
        raise ValueError("key ids must be unique")
    return tuple(keys)


def weakness(secret: str) -> str | None:
    """Why ``secret`` is too guessable for production, or None."""
    if PLACEHOLDER.search(secret):
        return "is still a CHANGE-ME placeholder"
    if DEFAULT_WORDS.fullmatch(re.sub(r"[^a-z0-9]", "", secret.lower())):
        return "is made of default words and digits"
    if len(set(secret)) < MIN_DISTINCT_CHARACTERS:
        return f"has fewer than {MIN_DISTINCT_CHARACTERS} different characters"
    return None


def _url_password(url: str | None) -> str:
    return unquote(urlsplit(url or "").password or "")


def normalize_database_url(value: str) -> str:
    """Turn the usual Postgres URL forms into SQLAlchemy's ``postgresql+asyncpg`` form.

    Accepts ``postgresql://``, ``postgres://`` and ``postgresql+asyncpg://``; a Unix socket
    given as ``?host=/path`` (libpq style) is kept, since asyncpg reads it from the query.
    libpq-only query options that asyncpg does not understand are translated or dropped.
    """
    parts = urlsplit(value)
    if parts.scheme not in {"postgres", "postgresql", "postgresql+asyncpg"}:
        raise ValueError(f"expected a postgresql:// URL, got scheme {parts.scheme!r}")
    query = []
    for key, item in parse_qsl(parts.query, keep_blank_values=True):
        if key == "sslmode":
            query.append(("ssl", item))
        elif key in {"host", "port", "ssl", "application_name", "options", "passfile"}:
            query.append((key, item))
    has_socket = any(key == "host" for key, _ in query)
    if not parts.hostname and not has_socket:
        raise ValueError("the URL names no host (give user@host:port/db or ?host=/socket/dir)")
    if not parts.path.strip("/"):
        raise ValueError("the URL names no database (add /dbname)")
    netloc = parts.netloc
    if parts.password is not None:
        user = quote(unquote(parts.username or ""), safe="")
        password = quote(unquote(parts.password), safe="")
        host = parts.netloc.rpartition("@")[2]
        netloc = f"{user}:{password}@{host}" if password else f"{user}@{host}"
    return urlunsplit(("postgresql+asyncpg", netloc, parts.path, urlencode(query), ""))


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the environment; raise :class:`ConfigError` listing every problem."""
    env_map = os.environ if environ is None else environ
    read = _Reader(env_map)
    env: Environment = read.get(
        "GHOSTPEN_ENV", _choice("development", "test", "production"), "development"
    )
    production = env == "production"
    database_url = read.required(
        "DATABASE_URL", normalize_database_url, "e.g. postgresql://user:pass@host:5432/ghostpen"
    )
    database_read_url = read.get("DATABASE_READ_URL", normalize_database_url, None)
    redis_url = read.required("REDIS_URL", _redis_url, "e.g. redis://localhost:6379/0")
    key_set = read.get("JWT_KEYS", _key_set, ())
    single_key = read.get("JWT_SECRET", _single_key, ())
    given_keys = key_set + single_key
    if production and not given_keys:
        read.problems.append("JWT_SECRET: required (at least 32 random characters)")
    jwt_keys = given_keys or _single_key(DEV_JWT_SECRET)
    openai_keys = read.get("OPENAI_API_KEYS", parse_key_list, ()) or read.get(
        "OPENAI_API_KEY", parse_key_list, ()
    )
    origins = read.get("ALLOWED_ORIGINS", _origins, ())
    default_format: LogFormat = "console" if env == "development" else "json"

    admin_password = read.raw("GHOSTPEN_ADMIN_PASSWORD")

    if production:
        for name, keys in (("JWT_KEYS", key_set), ("JWT_SECRET", single_key)):
            for key in keys:
                problem = weakness(key.secret)
                if key.secret == DEV_JWT_SECRET or len(key.secret) < MIN_SECRET_LENGTH:
                    problem = f"is the default or shorter than {MIN_SECRET_LENGTH} characters"
                if problem:
                    read.problems.append(
                        f"{name}: key {key.kid!r} {problem}; production needs a long random secret"
                    )
        placeholders = {
            "DATABASE_URL": [_url_password(database_url)],
            "DATABASE_READ_URL": [_url_password(database_read_url)],
            "REDIS_URL": [_url_password(redis_url)],
            "OPENAI_API_KEYS": openai_keys,
        }
        for name, values in placeholders.items():
            if any(PLACEHOLDER.search(value) for value in values):
                read.problems.append(f"{name}: still holds a CHANGE-ME placeholder")
        if admin_password and (problem := weakness(admin_password)):
            read.problems.append(
                f"GHOSTPEN_ADMIN_PASSWORD: {problem}; choose a long random password"
            )
        if "*" in origins:
            read.problems.append("ALLOWED_ORIGINS: wildcard '*' is refused in production")
        if not openai_keys:
            read.problems.append("OPENAI_API_KEYS: required in production (no offline backend)")

    request_rates = _rate_table(DEFAULT_RATE_LIMITS, "anonymous", "user", "admin")
    submit_rates = _rate_table(DEFAULT_SUBMIT_RATE_LIMITS, "user", "admin")
    prices = dict(DEFAULT_MODEL_PRICES)
    prices.update(read.get("MODEL_PRICES", _model_prices, {}))
    settings_kwargs: dict[str, Any] = {
        "env": env,
        "database_url": database_url,
        "database_read_url": database_read_url,
        "db_pool_size": read.get("DB_POOL_SIZE", _positive_int, 20),
        "db_max_overflow": read.get("DB_MAX_OVERFLOW", _non_negative_int, 0),
        "db_pool_timeout": read.get("DB_POOL_TIMEOUT", _positive_float, 5.0),
        "db_connect_timeout": read.get("DB_CONNECT_TIMEOUT", _positive_float, 0.8),
        "db_pool_pre_ping": read.get("DB_POOL_PRE_PING", _boolean, False),
        "db_statement_timeout_ms": read.get("DB_STATEMENT_TIMEOUT_MS", _positive_int, 15_000),
        "redis_url": redis_url,
        "jwt_keys": jwt_keys,
        "jwt_issuer": read.get("JWT_ISSUER", str, "ghostpen"),
        "jwt_audience": read.get("JWT_AUDIENCE", str, "ghostpen-api"),
        "access_token_ttl": read.get("ACCESS_TOKEN_TTL", _duration, 900),
        "refresh_token_ttl": read.get("REFRESH_TOKEN_TTL", _duration, 30 * 86400),
        "openai_api_keys": openai_keys,
        "openai_base_url": read.get("OPENAI_BASE_URL", _http_url, None),
        "openai_model": read.get("OPENAI_MODEL", str, "gpt-4o-mini"),
        "openai_timeout": read.get("OPENAI_TIMEOUT", _positive_float, 60.0),
        "openai_api_keys_file": env_map.get("OPENAI_API_KEYS_FILE") or None,
        "model_key_cooldown": read.get("MODEL_KEY_COOLDOWN", _positive_float, 10.0),
        "model_breaker_threshold": read.get("MODEL_BREAKER_THRESHOLD", _positive_int, 5),
        "model_breaker_cooloff": read.get("MODEL_BREAKER_COOLOFF", _duration, 15),
        "model_breaker_max_cooloff": read.get("MODEL_BREAKER_MAX_COOLOFF", _duration, 300),
        "model_prices": prices,
        "allowed_origins": origins,
        "rate_limits": read.get("RATE_LIMITS", request_rates, request_rates("")),
        "submit_rate_limits": read.get("SUBMIT_RATE_LIMITS", submit_rates, submit_rates("")),
        "trusted_proxies": read.get("TRUSTED_PROXIES", _cidrs, ()),
        "login_max_failures_per_account": read.get(
            "LOGIN_MAX_FAILURES_PER_ACCOUNT", _positive_int, 5
        ),
        "login_max_failures_per_ip": read.get("LOGIN_MAX_FAILURES_PER_IP", _positive_int, 20),
        "login_lock_seconds": read.get("LOGIN_LOCK_SECONDS", _duration, 60),
        "login_failure_window": read.get("LOGIN_FAILURE_WINDOW", _duration, 900),
        "webhook_allow_private_networks": read.get(
            "WEBHOOK_ALLOW_PRIVATE_NETWORKS", _boolean, False
        ),
        "webhook_timeout": read.get("WEBHOOK_TIMEOUT", _positive_float, 10.0),
        "webhook_retry_schedule": read.get(
            "WEBHOOK_RETRY_SCHEDULE", _delays, _delays(DEFAULT_WEBHOOK_RETRY_SCHEDULE)
        ),
        "webhook_secret_grace": read.get("WEBHOOK_SECRET_GRACE", _duration, 86400),
        "idempotency_ttl": read.get("IDEMPOTENCY_TTL", _duration, 86400),
        "audit_retention": read.get(
            "AUDIT_RETENTION",
            _duration_at_least(MIN_AUDIT_RETENTION),
            _duration(DEFAULT_AUDIT_RETENTION),
        ),
        "schedule_misfire_grace": read.get("SCHEDULE_MISFIRE_GRACE", _duration, 300),
        "max_body_bytes": read.get("MAX_BODY_BYTES", _positive_int, 1024 * 1024),
        "job_max_attempts": read.get("JOB_MAX_ATTEMPTS", _positive_int, 5),
        "job_deadline": read.get("JOB_DEADLINE", _duration, 3600),
        "job_lease_seconds": read.get("JOB_LEASE_SECONDS", _duration, 20),
        "job_timeout": read.get("JOB_TIMEOUT", _positive_float, 300.0),
        "worker_concurrency": read.get("WORKER_CONCURRENCY", _positive_int, 10),
        "worker_poll_delay": read.get("WORKER_POLL_DELAY", _positive_float, 0.02),
        "worker_drain_timeout": read.get("WORKER_DRAIN_TIMEOUT", _duration, 30),
        "log_level": read.get(
            "LOG_LEVEL", _choice("trace", "debug", "info", "warning", "error"), "info"
        ).upper(),
        "log_format": read.get("LOG_FORMAT", _choice("json", "console"), default_format),
        "admin_password": admin_password,
    }
    if read.problems:
        raise ConfigError(read.problems)
    return Settings(**settings_kwargs)
