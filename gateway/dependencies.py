"""Litestar dependency providers: the unit of work, sessions, the caller and their IP.

Every API route takes ``principal`` or ``anonymous``: resolving either is what spends the
caller's rate limit, so one mechanism limits every route and reuses the one authentication.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import AsyncGenerator
from typing import Annotated, Any

import msgspec
from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.rate_limits import SUBMISSION
from gateway.state import GatewayState
from shared.audit.schemas import ClientInfo
from shared.auth.principal import Principal, authenticate
from shared.config import Settings
from shared.db.uow import UnitOfWork
from shared.errors import Unauthorized
from shared.pagination import MAX_LIMIT

# Query parameters every listing endpoint takes.
PageLimit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT)]
PageCursor = Annotated[str | None, QueryParameter(max_length=200)]


def gateway_state(state: State) -> GatewayState:
    value: GatewayState = state["gateway"]
    return value


def request_id_of(request: Request[Any, Any, Any]) -> str | None:
    """The request's id, set by the request-context middleware."""
    request_id: str | None = request.scope["state"].get("request_id")
    return request_id


def provide_settings(state: State) -> Settings:
    return gateway_state(state).settings


async def provide_uow(state: State) -> AsyncGenerator[UnitOfWork, None]:
    """Commit after the handler succeeded and before the response is sent.

    A failed commit therefore becomes an error response, never a 2xx for lost work.
    """
    gateway = gateway_state(state)
    async with UnitOfWork(gateway.db.sessions, gateway.relay) as uow:
        yield uow
        await uow.commit()


async def provide_read_session(
    state: State, uow: NamedDependency[UnitOfWork]
) -> AsyncGenerator[AsyncSession, None]:
    """The read replica when one is configured, else the request's own session.

    Sharing the request's session keeps a read endpoint to one pooled connection.
    """
    gateway = gateway_state(state)
    if gateway.db.read_engine is gateway.db.engine:
        yield uow.session
        return
    async with gateway.db.read_sessions() as session:
        yield session


async def provide_principal(
    request: Request[Any, Any, Any],
    state: State,
    uow: NamedDependency[UnitOfWork],
    client_ip: NamedDependency[str],
) -> Principal:
    """Authenticate the caller, spend their rate limit, enforce the route's ``scope``/``admin``.

    Runs in the request's unit of work, so a request costs one pooled connection and one
    transaction. A request that fails to authenticate spends its IP's anonymous budget, so
    guessing credentials is throttled too. Raises Unauthorized, RateLimited or Forbidden.
    """
    gateway = gateway_state(state)
    try:
        try:
            principal = await authenticate(
                uow.session, gateway.settings, request.headers.get("authorization")
            )
        except Unauthorized:
            await gateway.rate_limiter.admit_anonymous(request.scope, client_ip)
            raise
        options = request.route_handler.opt
        await gateway.rate_limiter.admit(
            request.scope, principal, submission=bool(options.get(SUBMISSION))
        )
        if scope := options.get("scope"):
            principal.require_scope(scope)
        if options.get("admin"):
            principal.require_admin()
    except BaseException:
        # Litestar does not clean up dependencies resolved before one that raises, so the
        # request's connection is returned here rather than left for the garbage collector.
        await uow.close()
        raise
    return principal


class Anonymous(msgspec.Struct, frozen=True):
    """A caller without credentials (sign-up, login, token refresh, logout), admitted under
    their IP's anonymous rate limit: taking it is what spends that limit."""


async def provide_anonymous(
    request: Request[Any, Any, Any],
    state: State,
    uow: NamedDependency[UnitOfWork],
    client_ip: NamedDependency[str],
) -> Anonymous:
    """Spend the client IP's anonymous rate limit. Raises RateLimited."""
    try:
        await gateway_state(state).rate_limiter.admit_anonymous(request.scope, client_ip)
    except BaseException:
        await uow.close()  # as in provide_principal: resolved before us, never cleaned up
        raise
    return Anonymous()


def provide_client_ip(request: Request[Any, Any, Any], state: State) -> str:
    """The caller's address, believing X-Forwarded-For only from ``TRUSTED_PROXIES``."""
    return client_ip(
        request.client.host if request.client else "unknown",
        request.headers.get("x-forwarded-for", ""),
        gateway_state(state).settings.trusted_proxies,
    )


def provide_client(request: Request[Any, Any, Any], client_ip: NamedDependency[str]) -> ClientInfo:
    """The caller's address and user agent, as sessions and the audit log record them."""
    return ClientInfo.of(client_ip, request.headers.get("user-agent"))


def client_ip(peer: str, forwarded_for: str, trusted_proxies: tuple[str, ...]) -> str:
    """The first hop, walking X-Forwarded-For from the right, that is not a trusted proxy.

    Proxies append the address they received from, so only the entries added by proxies we
    trust are reliable; anything further left was written by the client and may be forged.
    """
    trusted = _networks(trusted_proxies)
    if not _in(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _in(hop, trusted):
            return hop
    return peer


def from_trusted_proxy(peer: str, trusted_proxies: tuple[str, ...]) -> bool:
    """Whether the connection's peer is one of ``TRUSTED_PROXIES``, whose headers we believe."""
    return _in(peer, _networks(trusted_proxies))


@functools.cache
def _networks(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(cidr) for cidr in cidrs)


def _in(address: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)
