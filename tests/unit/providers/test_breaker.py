"""The circuit breaker with an injected clock, and the provider wrapper that feeds it."""

from __future__ import annotations

import pytest

from shared.observability.metrics import REGISTRY
from workers.breaker import PROBE_WAIT, CircuitBreaker
from workers.providers import (
    ChatMessage,
    GenerationRequest,
    GenerationResult,
    GuardedProvider,
    KeyPool,
    ProviderError,
    ProviderErrorCode,
    Usage,
)


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(threshold=3, cooloff=10, max_cooloff=35, probe_timeout=20, clock=clock)


def fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        breaker.record_failure()


def test_opens_after_n_consecutive_failures(breaker: CircuitBreaker, clock: Clock) -> None:
    fail(breaker, 2)
    breaker.record_success()
    fail(breaker, 2)
    assert (breaker.state, breaker.defer_seconds()) == ("closed", None)

    fail(breaker, 1)

    assert breaker.state == "open"
    assert breaker.defer_seconds() == 10
    clock.now += 4
    assert breaker.defer_seconds() == 6
    assert REGISTRY.get_sample_value("ghostpen_model_circuit", {"state": "open"}) == 1


def test_half_open_lets_one_probe_through_and_closes_on_success(
    breaker: CircuitBreaker, clock: Clock
) -> None:
    fail(breaker, 3)
    clock.now += 10

    assert breaker.state == "half_open"
    assert breaker.defer_seconds() is None  # the probe
    assert breaker.defer_seconds() == PROBE_WAIT
    breaker.record_success()

    assert breaker.state == "closed"
    assert [breaker.defer_seconds() for _ in range(3)] == [None, None, None]
    fail(breaker, 2)
    assert breaker.state == "closed"  # the count started again


def test_a_failed_probe_reopens_with_a_doubled_cooloff_up_to_the_cap(
    breaker: CircuitBreaker, clock: Clock
) -> None:
    fail(breaker, 3)
    cooloffs = []
    for _ in range(4):
        clock.now += breaker.defer_seconds() or 0
        assert breaker.defer_seconds() is None
        breaker.record_failure()
        cooloffs.append(breaker.defer_seconds())

    assert cooloffs == [20, 35, 35, 35]
    clock.now += 35
    assert breaker.defer_seconds() is None
    breaker.record_success()
    fail(breaker, 3)
    assert breaker.defer_seconds() == 10  # closing reset the cool-off


def test_a_probe_that_never_reports_gives_up_its_turn(
    breaker: CircuitBreaker, clock: Clock
) -> None:
    fail(breaker, 3)
    clock.now += 10
    assert breaker.defer_seconds() is None

    clock.now += 19
    assert breaker.defer_seconds() == pytest.approx(1)
    clock.now += 1
    assert breaker.defer_seconds() is None  # the next probe


def test_a_neutral_outcome_frees_the_probe(breaker: CircuitBreaker, clock: Clock) -> None:
    fail(breaker, 3)
    clock.now += 10
    assert breaker.defer_seconds() is None

    breaker.record_neutral()

    assert breaker.defer_seconds() is None
    assert breaker.state == "half_open"


def test_failures_of_calls_started_before_it_opened_do_not_extend_it(
    breaker: CircuitBreaker, clock: Clock
) -> None:
    fail(breaker, 3)
    clock.now += 5
    fail(breaker, 4)

    assert breaker.defer_seconds() == 5


REQUEST = GenerationRequest(model="m", messages=(ChatMessage(role="user", content="hi"),))
RESULT = GenerationResult(text="ok", model="m", usage=Usage(1, 1), backend="stub")


class ScriptedBackend:
    """A backend that fails with the scripted codes, then succeeds."""

    name = "stub"

    def __init__(self, *codes: ProviderErrorCode) -> None:
        self.codes = list(codes)

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        if self.codes:
            raise ProviderError(self.codes.pop(0), "scripted", retryable=True)
        return RESULT

    async def aclose(self) -> None:
        return None


async def outcomes(provider: GuardedProvider, calls: int) -> list[str]:
    seen = []
    for _ in range(calls):
        try:
            await provider.generate(REQUEST)
            seen.append("ok")
        except ProviderError as error:
            seen.append(error.code)
    return seen


async def test_guarded_provider_counts_only_outages(breaker: CircuitBreaker) -> None:
    backend = ScriptedBackend(
        "model_unavailable",
        "model_timeout",
        "model_rate_limited",
        "model_bad_request",  # the API answered: the count starts again
        "model_connection_error",
        "model_unavailable",
        "model_rate_limited",  # neither up nor down
        "model_timeout",
    )
    provider = GuardedProvider(backend, breaker)

    assert await outcomes(provider, 7) == [
        "model_unavailable",
        "model_timeout",
        "model_rate_limited",
        "model_bad_request",
        "model_connection_error",
        "model_unavailable",
        "model_rate_limited",
    ]
    assert provider.deferral() is None
    await outcomes(provider, 1)
    assert provider.deferral() == ("model_circuit_open", 10)
    assert provider.name == "stub"


async def test_the_key_pool_holds_jobs_back_before_the_breaker_is_asked(
    breaker: CircuitBreaker,
) -> None:
    pool = KeyPool(["a"], connect=str, disconnect=_forget, default_cooldown=30)
    provider = GuardedProvider(ScriptedBackend(), breaker, pool=pool)
    assert provider.deferral() is None
    pool.cool_down(await pool.acquire(), 4.0)
    deferral = provider.deferral()
    assert deferral is not None
    assert deferral.reason == "model_keys_cooling"
    assert deferral.seconds == pytest.approx(4.0, abs=0.5)


async def _forget(client: str) -> None:
    del client
