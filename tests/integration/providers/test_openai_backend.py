"""The real OpenAI SDK against the fake server over HTTP: what jobs see when the API misbehaves."""

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.fakes.openai_server import FakeOpenAI
from workers.providers import (
    ChatMessage,
    GenerationRequest,
    OpenAIProvider,
    ProviderError,
    build_provider,
)

KEYS = ("sk-test-one", "sk-test-two")
REQUEST = GenerationRequest(
    model="gpt-4o-mini",
    messages=(
        ChatMessage(role="system", content="You write posts in the author's voice."),
        ChatMessage(role="user", content="Write a post about <topic>remote work</topic>."),
    ),
    max_tokens=200,
)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_keys=KEYS, cached_fraction=0.5) as fake:
        yield fake


@pytest.fixture
def fake(server: FakeOpenAI) -> FakeOpenAI:
    server.reset()
    return server


@pytest.fixture
async def provider(fake: FakeOpenAI) -> AsyncIterator[OpenAIProvider]:
    provider = OpenAIProvider(KEYS, fake.base_url, timeout=0.5)
    yield provider
    await provider.aclose()


@pytest.fixture
async def single(fake: FakeOpenAI) -> AsyncIterator[OpenAIProvider]:
    """One key: a 429 leaves no other key, so the server's Retry-After reaches the job."""
    provider = OpenAIProvider(KEYS[:1], fake.base_url, timeout=0.5)
    yield provider
    await provider.aclose()


async def fail(provider: OpenAIProvider) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        await provider.generate(REQUEST)
    return caught.value


async def test_success_maps_text_and_usage(provider: OpenAIProvider, fake: FakeOpenAI) -> None:
    result = await provider.generate(REQUEST)

    assert result.backend == "openai"
    assert result.model == "gpt-4o-mini"
    assert "remote work" in result.text.lower()
    assert result.usage.prompt_tokens > 0
    assert result.usage.completion_tokens > 0
    assert result.usage.cached_prompt_tokens == result.usage.prompt_tokens // 2
    assert result.usage.total_tokens == (
        result.usage.prompt_tokens + result.usage.completion_tokens
    )
    [sent] = fake.requests
    assert sent.max_tokens == 200
    assert [message["role"] for message in sent.messages] == ["system", "user"]


async def test_rate_limit_is_retryable_and_not_retried_by_the_sdk(
    single: OpenAIProvider, fake: FakeOpenAI
) -> None:
    fake.inject({"status": 429, "retry_after": 1.5})

    error = await fail(single)

    assert (error.code, error.retryable, error.status) == ("model_rate_limited", True, 429)
    assert error.retry_after == pytest.approx(1.5)
    assert len(fake.requests) == 1
    assert single.pool.counts() == (0, 1, 0)


async def test_retry_after_ms_wins_over_retry_after(
    single: OpenAIProvider, fake: FakeOpenAI
) -> None:
    fake.inject({"status": 429, "headers": {"retry-after": "7", "retry-after-ms": "250"}})

    error = await fail(single)

    assert error.retry_after == pytest.approx(0.25)


async def test_retry_after_seconds_alone(provider: OpenAIProvider, fake: FakeOpenAI) -> None:
    fake.inject({"status": 503, "headers": {"retry-after": "3"}})

    error = await fail(provider)

    assert (error.code, error.retryable, error.retry_after) == ("model_unavailable", True, 3.0)


async def test_server_error_is_retryable(provider: OpenAIProvider, fake: FakeOpenAI) -> None:
    fake.inject({"status": 500})

    error = await fail(provider)

    assert (error.code, error.retryable, error.retry_after) == ("model_unavailable", True, None)
    assert len(fake.requests) == 1


async def test_slow_response_times_out(provider: OpenAIProvider, fake: FakeOpenAI) -> None:
    fake.set_latency(2.0)

    error = await fail(provider)

    assert (error.code, error.retryable) == ("model_timeout", True)
    assert len(fake.requests) == 1


async def test_a_single_bad_key_is_permanent_and_quarantined(fake: FakeOpenAI) -> None:
    provider = OpenAIProvider(["sk-not-accepted-123"], fake.base_url, timeout=0.5)
    try:
        error = await fail(provider)
    finally:
        await provider.aclose()

    assert (error.code, error.retryable) == ("model_auth_failed", False)
    assert "sk-" not in error.message
    assert "sk-" not in str(error)
    assert provider.pool.counts() == (0, 0, 1)
    assert [sent.status for sent in fake.requests] == [401]


async def test_content_policy_rejection_is_permanent(
    provider: OpenAIProvider, fake: FakeOpenAI
) -> None:
    fake.inject({"status": 400, "code": "content_policy_violation"})

    error = await fail(provider)

    assert (error.code, error.retryable, error.status) == ("model_content_policy", False, 400)


async def test_content_filter_finish_reason_is_content_policy(
    provider: OpenAIProvider, fake: FakeOpenAI
) -> None:
    fake.inject({"finish_reason": "content_filter"})

    error = await fail(provider)

    assert (error.code, error.retryable) == ("model_content_policy", False)


async def test_empty_text_is_an_error(provider: OpenAIProvider, fake: FakeOpenAI) -> None:
    fake.inject({"content": "  "})

    error = await fail(provider)

    assert (error.code, error.retryable) == ("model_empty_response", True)


async def test_dropped_connection(provider: OpenAIProvider, fake: FakeOpenAI) -> None:
    fake.inject({"drop": True})

    error = await fail(provider)

    assert (error.code, error.retryable) == ("model_connection_error", True)
    assert len(fake.requests) == 1


async def test_keys_rotate_round_robin(provider: OpenAIProvider, fake: FakeOpenAI) -> None:
    for _ in range(4):
        await provider.generate(REQUEST)

    assert [sent.api_key for sent in fake.requests] == [*KEYS, *KEYS]


async def test_a_failure_does_not_stall_the_rotation(
    provider: OpenAIProvider, fake: FakeOpenAI
) -> None:
    fake.inject({"status": 500})

    await fail(provider)
    await provider.generate(REQUEST)

    assert [sent.status for sent in fake.requests] == [500, 200]
    assert [sent.api_key for sent in fake.requests] == list(KEYS)


async def test_build_provider_uses_openai_when_a_key_is_set(fake: FakeOpenAI) -> None:
    provider = build_provider(["", KEYS[0]], fake.base_url, timeout=0.5)
    try:
        result = await provider.generate(REQUEST)
    finally:
        await provider.aclose()

    assert provider.name == "openai"
    assert result.backend == "openai"
    assert [sent.api_key for sent in fake.requests] == [KEYS[0]]
