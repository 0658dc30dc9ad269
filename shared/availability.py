"""Which exceptions mean a backing service (Postgres, Redis) is unreachable right now rather
than a bug: the gateway answers them with 503 and ``Retry-After``, the workers run the task
again a little later. One list, so both sides agree on what an outage looks like."""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    PoolTimeoutError,
    OperationalError,
    InterfaceError,
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    TimeoutError,
    OSError,
)


def is_unavailable(exc: BaseException) -> bool:
    """True for refused or dropped connections and pool timeouts, incl. a stale pooled
    connection found dead after a database restart."""
    return isinstance(exc, UNAVAILABLE_ERRORS) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )
