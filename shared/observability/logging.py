"""Process-wide logging: one loguru sink, stdlib intercepted, secrets masked in one place.

Every record goes through `_patch` (loguru's core patcher) before any sink sees it: it adds the
current OpenTelemetry trace/span ids and masks the message, every extra field and the traceback.
Loguru's own exception rendering (`backtrace`/`diagnose`, which prints local variables) is never
used, because it would bypass the masking.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import sys
import traceback
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC
from functools import lru_cache
from typing import TYPE_CHECKING, Literal, TextIO

from loguru import logger
from opentelemetry import trace

if TYPE_CHECKING:
    from loguru import Record

__all__ = [
    "SENSITIVE_KEYS",
    "configure_logging",
    "mask",
    "new_request_id",
    "valid_request_id",
]

SENSITIVE_KEYS: frozenset[str] = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "token",
        "access_token",
        "refresh_token",
        "api_key",
        "key",
        "authorization",
        "cookie",
        "set-cookie",
    }
)

_MASK = "***"

# Libraries that install their own handlers (uvicorn) or log on their own loggers; their handlers
# are dropped so each record reaches loguru exactly once, through the root logger.
_INTERCEPTED = (
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "arq",
    "sqlalchemy",
    "alembic",
    "asyncio",
)

# Per-call chatter that would drown the events we log ourselves (model calls have spans and
# metrics; every task logs its own outcome as an event, while ARQ announces each run, cron
# passes every two seconds included; Alembic announces its plugins on every script load).
_QUIETED = {
    "httpx": logging.WARNING,
    "httpx2": logging.WARNING,
    "arq.worker": logging.WARNING,
    "alembic.runtime.plugins": logging.WARNING,
}

# "set-cookie" also matches "set_cookie" and "setCookie"; longest names are tried first.
_NAMES = "|".join(
    "[_-]?".join(re.escape(part) for part in re.split(r"[_-]", key))
    for key in sorted(SENSITIVE_KEYS, key=len, reverse=True)
)
# A sensitive word that ends the name or is followed by a separator: `db_password`, `apiKey`,
# `X-Api-Key`, `password_confirmation` are secret; `max_tokens`, `keyboard` are not.
_SENSITIVE_NAME = re.compile(rf"(?:{_NAMES})(?:[_.-]|$)", re.IGNORECASE)

_BEARER = re.compile(r"\b(bearer)\s+[^\s\"',;]+", re.IGNORECASE)
_TOKENS = re.compile(
    r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"  # JWT
    r"|\bsk-[A-Za-z0-9_-]{8,}"  # OpenAI-style key
    r"|\bgp_[A-Za-z0-9_-]{20,}"  # GhostPen API key
    r"|\bwhsec_[A-Za-z0-9+/=_-]{16,}"  # webhook signing secret (Standard Webhooks)
)
# Repetition bounds keep these linear on hostile input (a megabyte of "key_key_..." or "a.a.a...").
_URL_PASSWORD = re.compile(
    r"\b([a-z][a-z0-9+.-]{0,31}://[^\s:/@]{0,256}:)[^\s@/]{1,1024}@", re.IGNORECASE
)
# `password=x`, `db_password: x`, `"api_key": "x"`, `'token': 'x'`, `Authorization: Basic x`.
_KEY_VALUE = re.compile(
    rf"""((?:{_NAMES})(?:[_.-][\w.-]{{0,64}})?["']?\s{{0,16}}[:=]\s{{0,16}})"""
    r"""("(?:[^"\\]|\\.){0,1024}"|'(?:[^'\\]|\\.){0,1024}'"""
    r"""|(?:(?:bearer|basic|digest)\s+)?[^\s"',;&)}\]]+)""",
    re.IGNORECASE,
)

_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")

_CONSOLE_FORMAT = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS!UTC}</green> | <level>{level: <8}</level> | "
    "<cyan>{name}</cyan> - <level>{message}</level>{extra[_console]}\n"
)
# Fields every console line would repeat, or that get their own lines.
_CONSOLE_HIDDEN = frozenset({"service", "exception", "_console"})


def _mask_key_value(match: re.Match[str]) -> str:
    value = match[2]
    quote = value[0] if value[0] in "\"'" else ""
    return f"{match[1]}{quote}{_MASK}{quote}"


def _mask_text(text: str) -> str:
    text = _BEARER.sub(rf"\1 {_MASK}", text)
    text = _TOKENS.sub(_MASK, text)
    text = _URL_PASSWORD.sub(rf"\1{_MASK}@", text)
    return _KEY_VALUE.sub(_mask_key_value, text)


@lru_cache(maxsize=1024)
def _is_sensitive(key: str) -> bool:
    return _SENSITIVE_NAME.search(key) is not None


def mask(value: object) -> object:
    """Return a JSON-ready copy of `value` with secrets replaced by "***".

    Mappings have the values of sensitive keys masked (at any depth); strings have bearer tokens,
    JWTs, API keys, webhook secrets, `password=...` pairs and URL passwords masked. Objects of
    other types are rendered with `str()` first, since their text is what would reach the output.
    """
    if isinstance(value, str):
        return _mask_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Mapping):
        return {
            str(key): _MASK if _is_sensitive(str(key)) else mask(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [mask(item) for item in value]
    return _mask_text(str(value))


def _patch(record: Record) -> None:
    """Add trace ids and mask secrets; the only place records are redacted."""
    extra = record["extra"]
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        extra["trace_id"] = trace.format_trace_id(span_context.trace_id)
        extra["span_id"] = trace.format_span_id(span_context.span_id)
    for key, value in extra.items():
        extra[key] = _MASK if _is_sensitive(str(key)) else mask(value)
    record["message"] = _mask_text(record["message"])
    exception = record["exception"]
    if exception is not None and exception.value is not None:
        lines = traceback.format_exception(exception.type, exception.value, exception.traceback)
        extra["exception"] = _mask_text("".join(lines))


def _json_format(record: Record) -> str:
    line: dict[str, object] = {
        "time": record["time"].astimezone(UTC).isoformat(timespec="microseconds"),
        "level": record["level"].name,
        "message": record["message"],
        "logger": record["name"],
    }
    for key, value in record["extra"].items():
        line[f"extra.{key}" if key in line else key] = value
    # Loguru's recipe for custom serialization: a format function can only return a template.
    record["extra"]["_json"] = json.dumps(line, ensure_ascii=False)
    return "{extra[_json]}\n"


def _console_format(record: Record) -> str:
    extra = record["extra"]
    fields = "".join(
        f" {key}={value}" for key, value in extra.items() if key not in _CONSOLE_HIDDEN
    )
    exception = extra.get("exception")
    extra["_console"] = f"{fields}\n{exception.rstrip()}" if exception else fields
    return _CONSOLE_FORMAT


def _rename(name: str) -> Callable[[Record], None]:
    def patch(record: Record) -> None:
        record["name"] = name

    return patch


class _InterceptHandler(logging.Handler):
    """Loguru's README recipe, plus the stdlib logger name (`uvicorn.access`) as record name."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno

        # Point loguru at the code that called `logging`, not at the logging module.
        frame, depth = inspect.currentframe(), 0
        while frame:
            filename = frame.f_code.co_filename
            is_logging = filename == logging.__file__
            is_frozen = "importlib" in filename and "_bootstrap" in filename
            if depth > 0 and not (is_logging or is_frozen):
                break
            frame = frame.f_back
            depth += 1

        logger.patch(_rename(record.name)).opt(depth=depth, exception=record.exc_info).log(
            level, record.getMessage()
        )


def configure_logging(
    *,
    level: str = "INFO",
    fmt: Literal["json", "console"] = "console",
    service: str,
    sink: TextIO | None = None,
) -> None:
    """Route all of the process's logging to one sink (stderr unless `sink` is given).

    Calling it again replaces the previous setup instead of adding to it. Call it after uvicorn
    has applied its own logging config (or run uvicorn with `log_config=None`).
    """
    level = level.upper()
    threshold = logger.level(level).no  # also rejects unknown level names
    logger.configure(extra={"service": service}, patcher=_patch)
    logger.remove()
    logger.add(
        sink or sys.stderr,
        level=level,
        format=_json_format if fmt == "json" else _console_format,
        colorize=False if fmt == "json" else None,
        backtrace=False,
        diagnose=False,
    )

    root = logging.getLogger()
    root.handlers = [_InterceptHandler()]
    root.setLevel(threshold)
    for name in _INTERCEPTED:
        library_logger = logging.getLogger(name)
        library_logger.handlers.clear()
        library_logger.propagate = True
    for name, quiet_level in _QUIETED.items():
        logging.getLogger(name).setLevel(quiet_level)


def new_request_id() -> str:
    """A fresh id for a request that arrived without a usable X-Request-ID."""
    return uuid.uuid4().hex


def valid_request_id(value: str | None) -> bool:
    """Whether an incoming X-Request-ID is safe to echo and log (1-128 of [A-Za-z0-9._-])."""
    return value is not None and _REQUEST_ID.fullmatch(value) is not None
