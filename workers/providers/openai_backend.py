"""OpenAI chat-completions backend.

Retries: the SDK's own retries are disabled (`max_retries=0`). The only retry layer is the job
queue: a failed call raises `ProviderError`, and the task re-raises it as ARQ `Retry` with a
defer computed from `ProviderError.retry_after`. Two retry layers would multiply (SDK retries x
job tries) and hide the server's Retry-After from the queue, so a call here is exactly one HTTP
request.

Timeouts: the SDK takes an httpx-style timeout; each phase (read, write, pool) is bounded by
`timeout` seconds and connecting by at most 5 s. A non-streaming completion arrives in one piece,
so the read bound is in effect the bound on the whole call.

Keys: one `AsyncOpenAI` client per key, created once and reused for its connection pool. Keys
are handed out by `KeyRing`, which is where cool-down on 429 and quarantine on 401 will live.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence

import openai
from loguru import logger
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam

from workers.providers.base import (
    ChatMessage,
    GenerationRequest,
    GenerationResult,
    ProviderError,
    ProviderErrorCode,
    Usage,
    classify,
)

CONNECT_TIMEOUT = 5.0

# Failures that say something about the key rather than the request.
KEY_ERROR_CODES: frozenset[ProviderErrorCode] = frozenset(
    {"model_rate_limited", "model_auth_failed", "model_forbidden"}
)


class KeyRing:
    """Hands out API keys in rotation and hears about the ones that failed."""

    def __init__(self, keys: Sequence[str]) -> None:
        unique = tuple(dict.fromkeys(key for key in keys if key))
        if not unique:
            raise ValueError("KeyRing needs at least one non-empty API key")
        self.keys = unique
        self._index = {key: i for i, key in enumerate(unique)}
        self._turn = 0
        # (key position, error code) -> count; positions, not keys, so it is safe to log.
        self.failures: Counter[tuple[int, ProviderErrorCode]] = Counter()

    def __repr__(self) -> str:
        return f"KeyRing(<{len(self.keys)} keys>)"

    def next(self) -> str:
        key = self.keys[self._turn % len(self.keys)]
        self._turn += 1
        return key

    def report(self, key: str, error: ProviderError) -> None:
        """Record a key-level failure; the future pool will cool down or quarantine the key."""
        position = self._index[key]
        self.failures[position, error.code] += 1
        logger.warning(
            "provider.key_failed", key_position=position, code=error.code, status=error.status
        )


class OpenAIProvider:
    """Calls the chat-completions API once per `generate`, failing with `ProviderError`."""

    name = "openai"

    def __init__(self, api_keys: Sequence[str], base_url: str | None, timeout: float) -> None:
        self.keyring = KeyRing(api_keys)
        http_timeout = openai.Timeout(timeout, connect=min(CONNECT_TIMEOUT, timeout))
        self._clients = {
            key: openai.AsyncOpenAI(
                api_key=key, base_url=base_url, timeout=http_timeout, max_retries=0
            )
            for key in self.keyring.keys
        }

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        """Run one completion; raises `ProviderError` for every failure."""
        key = self.keyring.next()
        try:
            completion = await self._clients[key].chat.completions.create(
                model=request.model,
                messages=[_to_param(message) for message in request.messages],
                temperature=request.temperature,
                # `max_tokens` is deprecated in the SDK and rejected by reasoning models.
                max_completion_tokens=request.max_tokens,
            )
        except openai.OpenAIError as exc:
            error = classify(exc)
            if error.code in KEY_ERROR_CODES:
                self.keyring.report(key, error)
            raise error from exc
        return _to_result(completion)

    async def aclose(self) -> None:
        await asyncio.gather(*(client.close() for client in self._clients.values()))


def _to_param(message: ChatMessage) -> ChatCompletionMessageParam:
    if message.role == "system":
        return {"role": "system", "content": message.content}
    if message.role == "user":
        return {"role": "user", "content": message.content}
    return {"role": "assistant", "content": message.content}


def _to_result(completion: ChatCompletion) -> GenerationResult:
    if not completion.choices:
        raise ProviderError("model_empty_response", "model returned no choices", retryable=True)
    choice = completion.choices[0]
    if choice.finish_reason == "content_filter" or choice.message.refusal:
        raise ProviderError(
            "model_content_policy", "the model refused or was filtered", retryable=False
        )
    text = choice.message.content or ""
    if not text.strip():
        # Sampling again usually produces text, so this is worth another try.
        raise ProviderError("model_empty_response", "model returned no text", retryable=True)
    usage = completion.usage
    details = usage.prompt_tokens_details if usage else None
    return GenerationResult(
        text=text,
        model=completion.model,
        usage=Usage(
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            cached_prompt_tokens=(details.cached_tokens or 0) if details else 0,
        ),
        backend="openai",
    )
