"""The contract between generation tasks and model backends.

Tasks build a `GenerationRequest`, get a `GenerationResult` or a `ProviderError`, and never see
SDK types: swapping or adding a backend cannot leak into job code. `ProviderError` carries what
the job queue needs to decide on a retry (`retryable`, `retry_after`), because the queue is the
only retry layer.
"""

from __future__ import annotations

import email.utils
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Literal, NamedTuple, Protocol

import msgspec
import openai

ProviderErrorCode = Literal[
    "model_rate_limited",
    "model_unavailable",
    "model_timeout",
    "model_connection_error",
    "model_bad_request",
    "model_auth_failed",
    "model_forbidden",
    "model_not_found",
    "model_content_policy",
    "model_empty_response",
]

# Error codes the API uses when it refuses content rather than the request's shape.
CONTENT_POLICY_CODES = frozenset({"content_policy_violation", "content_filter"})

_MAX_MESSAGE_CHARS = 300
_SECRET = re.compile(r"\b(?:sk|rk|pk|sess)-[A-Za-z0-9_\-*.]{4,}|(?i:bearer)\s+\S+")


class ChatMessage(msgspec.Struct, frozen=True):
    role: Literal["system", "user", "assistant"]
    content: str


class GenerationHints(msgspec.Struct, frozen=True):
    """What the prompt was built from, for backends that cannot read a prompt (offline)."""

    topic: str
    platform: str
    language: str
    target_length: int
    samples: tuple[str, ...] = ()
    signature_phrases: tuple[str, ...] = ()
    top_emojis: tuple[str, ...] = ()
    top_hashtags: tuple[str, ...] = ()


class GenerationRequest(msgspec.Struct, frozen=True):
    model: str
    messages: tuple[ChatMessage, ...]
    temperature: float = 0.7
    max_tokens: int = 1024
    hints: GenerationHints | None = None


class Usage(msgspec.Struct, frozen=True):
    prompt_tokens: int
    completion_tokens: int
    cached_prompt_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class GenerationResult(msgspec.Struct, frozen=True):
    text: str
    model: str
    usage: Usage
    backend: str


class ProviderError(Exception):
    """A model call failed; `code` is stable, `message` is safe to store and show."""

    def __init__(
        self,
        code: ProviderErrorCode,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code: ProviderErrorCode = code
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status

    def __reduce__(self) -> tuple[partial[ProviderError], tuple[ProviderErrorCode, str]]:
        """Rebuild with the keyword arguments too: ARQ pickles a failed job's exception."""
        rebuild = partial(
            type(self), retryable=self.retryable, retry_after=self.retry_after, status=self.status
        )
        return rebuild, (self.code, self.message)


class ModelBackend(Protocol):
    """One way to run a completion (the OpenAI API, the offline generator)."""

    name: str

    async def generate(self, request: GenerationRequest) -> GenerationResult: ...

    async def aclose(self) -> None: ...


class Deferral(NamedTuple):
    """Why and for how long to hold a job back without using one of its attempts."""

    reason: Literal["model_circuit_open", "model_keys_cooling"]
    seconds: float


class Provider(ModelBackend, Protocol):
    """What generation calls: a backend that also says when to hold calls back."""

    def deferral(self) -> Deferral | None: ...


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked us to wait: `retry-after-ms`, then `Retry-After` (secs or date).

    `headers` must look keys up case-insensitively (httpx headers do) or use lower-case keys.
    """
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw)
        except ValueError:
            continue
        if math.isfinite(value):
            return max(value / scale, 0.0)
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" means UTC with no claim about the local zone
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def safe_message(text: str) -> str:
    """Strip anything key-like and cap the length, so errors can be stored and shown."""
    cleaned = _SECRET.sub("[redacted]", " ".join(text.split()))
    return cleaned[:_MAX_MESSAGE_CHARS]


def classify(exc: BaseException) -> ProviderError:
    """Map an SDK or transport exception to a `ProviderError` with a stable code."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, openai.APITimeoutError | TimeoutError):
        return ProviderError("model_timeout", "model API did not answer in time", retryable=True)
    if isinstance(exc, openai.APIConnectionError | ConnectionError):
        return ProviderError(
            "model_connection_error", "could not reach the model API", retryable=True
        )
    if isinstance(exc, openai.ContentFilterFinishReasonError):
        return ProviderError(
            "model_content_policy", "the model's content filter stopped it", retryable=False
        )
    if isinstance(exc, openai.APIStatusError):
        return _classify_status(exc)
    if isinstance(exc, openai.APIResponseValidationError):
        return ProviderError(
            "model_unavailable",
            "model API returned a malformed response",
            retryable=True,
            status=exc.status_code,
        )
    # Unknown failures are permanent so that a bug never loops through the job queue.
    return ProviderError(
        "model_unavailable", f"unexpected {type(exc).__name__} from model API", retryable=False
    )


def _classify_status(exc: openai.APIStatusError) -> ProviderError:
    status = exc.status_code
    retry_after = parse_retry_after(exc.response.headers)
    detail = f"HTTP {status}" + (f" ({exc.code})" if exc.code else "")
    server_message = exc.body.get("message") if isinstance(exc.body, dict) else None
    # 401 messages echo a (masked) key; never pass them on.
    if status != 401 and isinstance(server_message, str) and server_message:
        detail = f"{detail}: {safe_message(server_message)}"
    code: ProviderErrorCode
    retryable = False
    if exc.code in CONTENT_POLICY_CODES:
        code = "model_content_policy"
    elif status == 429:
        code, retryable = "model_rate_limited", True
    elif status == 408:
        code, retryable = "model_timeout", True
    elif status == 409 or status >= 500:
        code, retryable = "model_unavailable", True
    elif status == 401:
        code = "model_auth_failed"
    elif status == 403:
        code = "model_forbidden"
    elif status == 404:
        code = "model_not_found"
    else:
        code = "model_bad_request"
    return ProviderError(code, detail, retryable=retryable, retry_after=retry_after, status=status)
