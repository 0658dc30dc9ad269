"""Where webhooks may go: http(s) URLs whose addresses are public (SSRF guard).

:func:`check_url` is the cheap check run when a URL is submitted (scheme, host, literal
addresses, ``localhost``); delivery resolves the host again and connects only to an address
that passed the same test, so DNS rebinding cannot slip past.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from shared.config import Settings
from shared.errors import FieldError, ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
DEFAULT_PORTS = {"http": 80, "https": 443}


class Refused(Exception):
    """A destination webhooks must not go to; the message says why (shown to the user)."""


def is_public(address: IPAddress) -> bool:
    """False for private, loopback, link-local (incl. cloud metadata), multicast, reserved."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def check_url(settings: Settings, url: str, field: str) -> None:
    """Refuse URLs that are not http(s) or that name a non-public address outright.

    Raises:
        ValidationFailed: with one error for ``field``.
    """
    problem = url_problem(url, allow_private=settings.webhook_allow_private_networks)
    if problem:
        raise ValidationFailed(errors=[FieldError(field, problem)])


async def check_endpoint_url(settings: Settings, url: str, field: str) -> None:
    """:func:`check_url`, then resolve the host now, so a typo or a private name fails early.

    Raises:
        ValidationFailed: with one error for ``field``.
    """
    check_url(settings, url, field)
    if settings.webhook_allow_private_networks:
        return
    parts = urlsplit(url)
    try:
        await public_address(parts.hostname or "", parts.port or DEFAULT_PORTS[parts.scheme])
    except Refused as refusal:
        raise ValidationFailed(errors=[FieldError(field, str(refusal))]) from None


async def public_address(host: str, port: int) -> IPAddress:
    """The address to connect to for ``host``: every address it resolves to must be public.

    One non-public address among public ones is refused too: a name that mixes them is either
    misconfigured or an attempt to reach an internal service.

    Raises:
        Refused: the host does not resolve, or resolves to a non-public address.
    """
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise Refused(f"host {host!r} does not resolve") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses:
        raise Refused(f"host {host!r} does not resolve")
    for address in addresses:
        if not is_public(address):
            raise Refused(
                f"host {host!r} resolves to {address}, a private, loopback, link-local or "
                "reserved address"
            )
    return addresses[0]


def url_problem(url: str, *, allow_private: bool) -> str | None:
    """Why ``url`` may not receive webhooks, or None; names are only checked, not resolved."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "not a valid URL"
    if parts.scheme not in {"http", "https"} or not host:
        return "must be an http:// or https:// URL with a host"
    if parts.username is not None or parts.password is not None:
        return "must not contain credentials"
    name = host.rstrip(".").lower()
    try:
        address: IPAddress | None = ipaddress.ip_address(name)
    except ValueError:
        address = None
    if address is None and not _is_dns_name(name):
        return "host is not a valid DNS name"
    if allow_private:
        return None
    if name in _LOCAL_NAMES or name.endswith(".localhost"):
        return "must not point to this machine"
    if address is not None and not is_public(address):
        return "must not point to a private, loopback, link-local or reserved address"
    return None  # a name: resolved and checked again at delivery


def _is_dns_name(name: str) -> bool:
    """Whether ``name`` can be looked up: IDNA-encodable, labels of 1-63 bytes, 253 in all.

    The resolver raises ``UnicodeError`` rather than ``OSError`` for names it cannot encode.
    """
    try:
        encoded = name.encode("idna")
    except UnicodeError:
        return False
    return len(encoded) <= 253 and all(0 < len(label) <= 63 for label in encoded.split(b"."))
