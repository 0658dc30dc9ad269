"""Litestar dependency providers: the unit of work, sessions, the caller and their IP."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncGenerator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.state import GatewayState
from shared.auth.principal import Principal, authenticate
from shared.config import Settings
from shared.db.uow import UnitOfWork


def gateway_state(state: State) -> GatewayState:
    value: GatewayState = state["gateway"]
    return value


def provide_settings(state: State) -> Settings:
    return gateway_state(state).settings


async def provide_uow(state: State) -> AsyncGenerator[UnitOfWork, None]:
    """Commit after the handler succeeded and before the response is sent.

    A failed commit therefore becomes an error response, never a 2xx for lost work.
    """
    gateway = gateway_state(state)
    async with UnitOfWork(gateway.db.sessions, gateway.redis) as uow:
        yield uow
        await uow.commit()


async def provide_read_session(state: State) -> AsyncGenerator[AsyncSession, None]:
    """A session on the read replica when one is configured (read-only endpoints)."""
    async with gateway_state(state).db.read_sessions() as session:
        yield session


async def provide_principal(request: Request[Any, Any, Any], state: State) -> Principal:
    """Authenticate the caller and enforce the route's ``scope``/``admin`` options.

    Uses its own short transaction so the connection goes back to the pool before the
    handler runs. Raises Unauthorized or Forbidden.
    """
    gateway = gateway_state(state)
    async with gateway.db.sessions() as session:
        principal = await authenticate(
            session, gateway.settings, request.headers.get("authorization")
        )
        await session.commit()
    options = request.route_handler.opt
    if scope := options.get("scope"):
        principal.require_scope(scope)
    if options.get("admin"):
        principal.require_admin()
    return principal


def provide_client_ip(request: Request[Any, Any, Any], state: State) -> str:
    """The peer address, or the first untrusted hop of X-Forwarded-For behind a trusted proxy."""
    peer = request.client.host if request.client else "unknown"
    trusted = [ipaddress.ip_network(cidr) for cidr in gateway_state(state).settings.trusted_proxies]
    if not trusted or not _in(peer, trusted):
        return peer
    hops = [hop.strip() for hop in request.headers.get("x-forwarded-for", "").split(",")]
    for hop in reversed([hop for hop in hops if hop]):
        if not _in(hop, trusted):
            return hop
    return peer


def _in(address: str, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)
