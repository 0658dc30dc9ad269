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
# SQLSTATEs of a server that is not there for now: connection exceptions (class 08), too many
# connections, and a server shutting down, crashed or still starting/recovering (57P01-57P03).
_UNAVAILABLE_SQLSTATES = ("08", "53300", "57P01", "57P02", "57P03")


def is_unavailable(exc: BaseException) -> bool:
    """True for refused or dropped connections and pool timeouts, incl. a stale pooled
    connection found dead after a database restart and a server still starting up."""
    if isinstance(exc, UNAVAILABLE_ERRORS):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    driver_error = exc.orig if isinstance(exc, DBAPIError) else exc
    sqlstate = getattr(driver_error, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES)
