"""Model backends behind one `Provider` interface; `build_provider` picks one from settings.

Every backend is wrapped in a `GuardedProvider`, which records each call's outcome in the
process's circuit breaker (see workers/breaker.py); `worker_provider` also publishes the key
pool's state to Redis for `GET /admin/queue`.
"""

from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from shared.config import Settings
from workers.breaker import CircuitBreaker
from workers.providers.base import (
    ChatMessage,
    Deferral,
    GenerationHints,
    GenerationRequest,
    GenerationResult,
    ModelBackend,
    Provider,
    ProviderError,
    ProviderErrorCode,
    Usage,
    classify,
    parse_retry_after,
)
from workers.providers.keypool import DEFAULT_COOLDOWN, KeyPool, PoolPublisher
from workers.providers.offline import OfflineProvider
from workers.providers.openai_backend import OpenAIProvider

__all__ = [
    "ChatMessage",
    "Deferral",
    "GenerationHints",
    "GenerationRequest",
    "GenerationResult",
    "GuardedProvider",
    "KeyPool",
    "ModelBackend",
    "OfflineProvider",
    "OpenAIProvider",
    "Provider",
    "ProviderError",
    "ProviderErrorCode",
    "Usage",
    "build_provider",
    "classify",
    "parse_retry_after",
    "worker_provider",
]

# Failures that say the model API is down, as opposed to refusing one request or one key.
OUTAGE_CODES: frozenset[ProviderErrorCode] = frozenset(
    {"model_unavailable", "model_timeout", "model_connection_error"}
)
# The time a half-open probe may take beyond the model call's own timeout (the job's reads).
PROBE_SLACK = 10.0


class GuardedProvider:
    """A backend whose calls feed the circuit breaker; what generation calls."""

    def __init__(
        self,
        backend: ModelBackend,
        breaker: CircuitBreaker,
        publisher: PoolPublisher | None = None,
        pool: KeyPool[Any] | None = None,
    ) -> None:
        self.backend = backend
        self.breaker = breaker
        self.publisher = publisher
        self.pool = pool
        self.name = backend.name

    def deferral(self) -> Deferral | None:
        """Hold a job back while every key cools down after a 429 (a job would only find no
        key) or while the model API is down (the breaker); None to go ahead.

        The pool is asked first: the breaker's answer can make this job its half-open probe.
        """
        if self.pool is not None and (seconds := self.pool.wait_seconds()) is not None:
            return Deferral("model_keys_cooling", seconds)
        if (seconds := self.breaker.defer_seconds()) is not None:
            return Deferral("model_circuit_open", seconds)
        return None

    async def generate(self, request: GenerationRequest) -> GenerationResult:
        """Run one completion through the backend; raises its `ProviderError`."""
        try:
            result = await self.backend.generate(request)
        except ProviderError as error:
            if error.code in OUTAGE_CODES:
                self.breaker.record_failure()
            elif error.code == "model_rate_limited":
                self.breaker.record_neutral()
            else:  # the API answered, even if it refused this request
                self.breaker.record_success()
            raise
        self.breaker.record_success()
        return result

    async def aclose(self) -> None:
        if self.publisher is not None:
            await self.publisher.aclose()
        await self.backend.aclose()


def build_provider(
    api_keys: Sequence[str],
    base_url: str | None,
    timeout: float,
    *,
    keys_file: str | None = None,
    key_cooldown: float = DEFAULT_COOLDOWN,
    breaker: CircuitBreaker | None = None,
) -> GuardedProvider:
    """OpenAI when any key is configured, otherwise the labelled offline backend."""
    keys = [key for key in api_keys if key.strip()]
    breaker = breaker or CircuitBreaker(probe_timeout=timeout + PROBE_SLACK)
    if not keys:
        return GuardedProvider(OfflineProvider(), breaker)
    backend = OpenAIProvider(
        keys, base_url, timeout, keys_file=keys_file, key_cooldown=key_cooldown
    )
    return GuardedProvider(backend, breaker, pool=backend.pool)


def worker_provider(settings: Settings, redis: Redis, worker_id: str) -> GuardedProvider:
    """The worker's provider from settings; publishes its key pool's state to Redis.

    Call it inside the running event loop (ARQ's ``on_startup``): it starts the publisher.
    """
    provider = build_provider(
        settings.openai_api_keys,
        settings.openai_base_url,
        settings.openai_timeout,
        keys_file=settings.openai_api_keys_file,
        key_cooldown=settings.model_key_cooldown,
        breaker=CircuitBreaker(
            threshold=settings.model_breaker_threshold,
            cooloff=settings.model_breaker_cooloff,
            max_cooloff=settings.model_breaker_max_cooloff,
            probe_timeout=settings.openai_timeout + PROBE_SLACK,
        ),
    )
    backend = provider.backend
    if isinstance(backend, OpenAIProvider):
        breaker = provider.breaker
        publisher = PoolPublisher(redis, worker_id, backend.pool, lambda: breaker.state)
        backend.pool.on_change = breaker.on_change = publisher.changed
        provider.publisher = publisher
        publisher.start()
    return provider
