"""OpenAI chat-completions backend.

Retries: the SDK's own retries are disabled (`max_retries=0`). The only retry layer is the job
queue: a failed call raises `ProviderError`, and the task re-raises it as ARQ `Retry` with a
defer computed from `ProviderError.retry_after`. Two retry layers would multiply (SDK retries x
job tries) and hide the server's Retry-After from the queue, so a call here is exactly one HTTP
request.

Timeouts: the SDK takes an httpx-style timeout; each phase (read, write, pool) is bounded by
`timeout` seconds and connecting by at most 5 s. A non-streaming completion arrives in one piece,
so the read bound is in effect the bound on the whole call.

Keys: one `AsyncOpenAI` client per key, created once and reused for its connection pool, handed
out by `KeyPool` (see keypool.py). A 401/403 is the one failure retried inside `generate`: the
key is quarantined and the same request goes out at once with another key, since the request
itself was fine. A 429 cools its key down and fails the call; when another key is usable the
server's Retry-After (which concerns the throttled key) is dropped, so the job's retry comes
back after a short backoff and takes that key.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import openai
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
from workers.providers.keypool import DEFAULT_COOLDOWN, KeyPool

CONNECT_TIMEOUT = 5.0

# Failures that say the key itself was refused; the request is retried with another key.
REFUSED_KEY_CODES: frozenset[ProviderErrorCode] = frozenset(
    {"model_auth_failed", "model_forbidden"}
)


class OpenAIProvider:
    """Calls the chat-completions API once per `generate`, failing with `ProviderError`."""

    name = "openai"

    def __init__(
        self,
        api_keys: Sequence[str],
        base_url: str | None,
        timeout: float,
        *,
        keys_file: str | None = None,
        key_cooldown: float = DEFAULT_COOLDOWN,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        http_timeout = openai.Timeout(timeout, connect=min(CONNECT_TIMEOUT, timeout))

        def connect(key: str) -> openai.AsyncOpenAI:
            return openai.AsyncOpenAI(
                api_key=key, base_url=base_url, timeout=http_timeout, max_retries=0
            )

        self.pool: KeyPool[openai.AsyncOpenAI] = KeyPool(
            api_keys,
            connect=connect,
            disconnect=lambda client: client.close(),
            keys_file=keys_file,
            default_cooldown=key_cooldown,
            clock=clock,
        )

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        """Run one completion; raises `ProviderError` for every failure."""
        while True:  # ends: each turn succeeds, raises, or quarantines one more key
            slot = await self.pool.acquire()
            try:
                completion = await slot.client.chat.completions.create(
                    model=request.model,
                    messages=[_to_param(message) for message in request.messages],
                    temperature=request.temperature,
                    # `max_tokens` is deprecated in the SDK and rejected by reasoning models.
                    max_completion_tokens=request.max_tokens,
                )
            except openai.OpenAIError as exc:
                error = classify(exc)
                if error.code in REFUSED_KEY_CODES:
                    self.pool.quarantine(slot, error)
                    continue
                if error.code == "model_rate_limited":
                    self.pool.cool_down(slot, error.retry_after)
                    if self.pool.has_usable():
                        error = ProviderError(
                            error.code, error.message, retryable=True, status=error.status
                        )
                raise error from exc
            finally:
                await self.pool.release(slot)
            return _to_result(completion)

    async def aclose(self) -> None:
        await self.pool.aclose()


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
