"""Rate limits per caller, counted in Redis so every gateway process shares one budget.

A caller is a user signed in with a JWT, an API key (its own budget, apart from its owner's
JWT), or an anonymous client IP; the budget is their role's ``RATE_LIMITS`` entry. Job, batch and
schedule creation also spends the role's ``SUBMIT_RATE_LIMITS`` budget. Counting uses the
``limits`` library's moving window, acquired by one Lua script per hit, so concurrent requests
on any number of processes never overspend. Redis trouble fails open: rate limiting protects
the service, so it must never be the reason a request is refused.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope
from loguru import logger
from redis.asyncio import ConnectionPool
from redis.exceptions import RedisError

from shared.auth.principal import Principal
from shared.errors import RateLimited
from shared.observability.metrics import RATE_LIMIT_FAIL_OPEN

KEY_PREFIX = "ghostpen:rl"
# Route option marking job, batch and schedule creation: `opt={..., SUBMISSION: True}`.
SUBMISSION = "submission"
# After a Redis failure, serve unchecked this long before trying Redis again, so an outage costs
# neither a connection attempt per request nor a warning per request.
PAUSE_AFTER_FAILURE = 5.0
_STATE_KEY = "rate_limit"


@dataclass(frozen=True, slots=True)
class Quota:
    """A budget after this request: what the ``RateLimit-*`` headers report."""

    limit: int
    remaining: int
    # Seconds until the oldest request in the window leaves it and frees a unit (at least 1).
    reset: int


@dataclass(frozen=True, slots=True)
class _Budget:
    name: str  # "requests" or "submissions": part of the Redis key and the 429's detail
    rate: RateLimitItem


class RateLimiter:
    """Admits or refuses a caller's request against their role's budgets."""

    def __init__(
        self,
        pool: ConnectionPool,
        rates: Mapping[str, str],
        submit_rates: Mapping[str, str],
    ) -> None:
        # Shares the gateway's Redis pool: no connections of its own to open or close.
        storage = RedisStorage(
            "async+redis://",
            implementation="redispy",
            key_prefix=KEY_PREFIX,
            # Documented (":param connection_pool:"), though typed as a scalar option upstream.
            connection_pool=pool,  # type: ignore[arg-type]
        )
        self._window = MovingWindowRateLimiter(storage)
        self._requests = {role: _Budget("requests", parse(rate)) for role, rate in rates.items()}
        self._submissions = {
            role: _Budget("submissions", parse(rate)) for role, rate in submit_rates.items()
        }
        self._paused_until = 0.0

    async def admit(self, scope: Scope, principal: Principal, *, submission: bool) -> None:
        """Spend one unit of the caller's request budget, and of their submission budget.

        An API key has a budget of its own, apart from its owner's JWT: a runaway integration
        cannot lock its owner out of the API, including the call that revokes the key.

        Raises:
            RateLimited: a budget is spent; ``retry_after`` says when a unit frees.
        """
        key_id = principal.api_key_id
        caller = f"key:{key_id}" if key_id else f"user:{principal.user_id}"
        budgets = [self._requests[principal.role]]
        if submission:
            budgets.append(self._submissions[principal.role])
        await self._spend(scope, caller, budgets)

    async def admit_anonymous(self, scope: Scope, client_ip: str) -> None:
        """Spend one unit of the client IP's anonymous budget.

        Raises:
            RateLimited: the budget is spent; ``retry_after`` says when a unit frees.
        """
        await self._spend(scope, f"ip:{client_ip}", [self._requests["anonymous"]])

    async def _spend(self, scope: Scope, caller: str, budgets: list[_Budget]) -> None:
        """Hit each budget in turn; record the tightest in the scope for the headers."""
        if time.monotonic() < self._paused_until:
            RATE_LIMIT_FAIL_OPEN.inc()
            return
        quotas: list[Quota] = []
        try:
            for budget in budgets:
                allowed = await self._window.hit(budget.rate, budget.name, caller)
                stats = await self._window.get_window_stats(budget.rate, budget.name, caller)
                quota = Quota(
                    limit=budget.rate.amount,
                    remaining=max(stats.remaining, 0),
                    reset=max(math.ceil(stats.reset_time - time.time()), 1),
                )
                if not allowed:
                    _state(scope)[_STATE_KEY] = quota
                    raise RateLimited(
                        f"{budget.name} rate limit of {budget.rate} exceeded; "
                        f"retry in {quota.reset} s",
                        retry_after=quota.reset,
                    )
                quotas.append(quota)
        except (RedisError, OSError) as exc:
            self._paused_until = time.monotonic() + PAUSE_AFTER_FAILURE
            RATE_LIMIT_FAIL_OPEN.inc()
            logger.warning(
                "rate_limit.unavailable",
                error=type(exc).__name__,
                paused_seconds=PAUSE_AFTER_FAILURE,
            )
            return
        _state(scope)[_STATE_KEY] = min(quotas, key=lambda quota: quota.remaining)


def _state(scope: Scope) -> dict[str, Any]:
    state: dict[str, Any] = scope.setdefault("state", {})
    return state


async def add_rate_limit_headers(message: Message, scope: Scope) -> None:
    """Litestar ``before_send`` hook: report the request's budget on any response, 429s too."""
    if message["type"] != "http.response.start":
        return
    quota: Quota | None = scope.get("state", {}).get(_STATE_KEY)
    if quota is None:
        return
    headers = MutableScopeHeaders.from_message(message)
    headers["RateLimit-Limit"] = str(quota.limit)
    headers["RateLimit-Remaining"] = str(quota.remaining)
    headers["RateLimit-Reset"] = str(quota.reset)
