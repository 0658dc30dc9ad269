"""Where webhooks may go: http(s) URLs whose addresses are public (SSRF guard).

:func:`check_url` is the cheap check run when a URL is submitted (scheme, host, port, literal
addresses in any spelling the resolver reads as one, ``localhost``); delivery resolves the host
again and connects only to an address that passed the same test, so DNS rebinding cannot slip
past. URLs are parsed by httpx, the client that sends them, so a URL accepted here can be sent
and the host checked is the one connected to.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket

import httpx

from shared.config import Settings
from shared.errors import FieldError, ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
DEFAULT_PORTS = {"http": 80, "https": 443}
NOT_PUBLIC = "a private, loopback, link-local or reserved address"
# IPv6 ranges that carry an IPv4 address. Well-known NAT64 (like IPv4-mapped, handled through
# ``ipv4_mapped``) is how IPv4 hosts look on an IPv6-only network with DNS64, so it is judged by
# the IPv4 address inside. The others are refused whatever they carry: IPv4-compatible and 6to4
# are deprecated (RFC 4291, RFC 7526), Teredo reaches its client through relays, and local-use
# NAT64 (RFC 8215) embeds the address where its operator chooses; no receiver needs them, and
# what they lead to depends on a translator we cannot see.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_TRANSITION = tuple(
    ipaddress.IPv6Network(network)
    for network in ("::/96", "64:ff9b:1::/48", "2002::/16", "2001::/32")
)
# What inet_aton, and so the resolver, may read as an IPv4 address: 1 to 4 parts, each decimal,
# octal (leading 0) or hex (0x), e.g. ``2130706433``, ``0x7f.1``, ``127.1``.
_INET_ATON_CHARS = re.compile(r"[0-9a-fx.]+")
_DNS_LABEL = re.compile(r"[a-z0-9_-]{1,63}")


class Refused(Exception):
    """A destination webhooks must not go to; the message says why (shown to the user)."""


def is_public(address: IPAddress) -> bool:
    """False for private, loopback, link-local (incl. cloud metadata), multicast, reserved,
    IPv4-mapped or NAT64 IPv6 of such an address, and the other transition ranges.

    ``is_reserved`` is checked too: Python 3.11 calls some reserved IPv6 ranges global.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)
        if address in _NAT64:
            return is_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if _is_transition(address):
        return False
    return address.is_global and not address.is_multicast and not address.is_reserved


def _is_transition(address: IPAddress) -> bool:
    return isinstance(address, ipaddress.IPv6Address) and any(
        address in network for network in _TRANSITION
    )


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
    try:
        await public_address(*host_and_port(httpx.URL(url)))
    except Refused as refusal:
        raise ValidationFailed(errors=[FieldError(field, str(refusal))]) from None


def host_and_port(target: httpx.URL) -> tuple[str, int]:
    """The host (IDNA-encoded, as httpx sends it) and port that ``target`` connects to."""
    return target.raw_host.decode("ascii"), target.port or DEFAULT_PORTS[target.scheme]


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
            raise Refused(f"host {host!r} resolves to {address}, {NOT_PUBLIC}")
    return addresses[0]


def url_problem(url: str, *, allow_private: bool) -> str | None:
    """Why ``url`` may not receive webhooks, or None; names are only checked, not resolved."""
    try:
        target = httpx.URL(url)
    except httpx.InvalidURL as exc:
        return f"not a valid URL ({exc})"
    if target.scheme not in DEFAULT_PORTS or not target.raw_host:
        return "must be an http:// or https:// URL with a host"
    if target.userinfo:
        return "must not contain credentials"
    if target.port is not None and not 0 < target.port < 65536:
        return "port must be between 1 and 65535"
    name = target.raw_host.decode("ascii").rstrip(".").lower()
    address = _address(name)
    if address is None and not _is_dns_name(name):
        return "host is not a valid DNS name"
    if allow_private:
        return None
    if name in _LOCAL_NAMES or name.endswith(".localhost"):
        return "must not point to this machine"
    if address is not None and not is_public(address):
        return _refusal(name, address)
    return None  # a name: resolved and checked again at delivery


def _refusal(name: str, address: IPAddress) -> str:
    """Why the address ``name`` spells is refused, saying what a disguised spelling stands for."""
    if _is_transition(address) and not (address.is_loopback or address.is_unspecified):
        return "must not be an IPv4-compatible, 6to4, Teredo or local-use NAT64 IPv6 address"
    problem = f"must not point to {NOT_PUBLIC}"
    if address.version == 4 and str(address) != name:  # e.g. 2130706433
        return f"{name} is the IPv4 address {address}; {problem}"
    return problem


def _address(name: str) -> IPAddress | None:
    """The address ``name`` is, in any spelling the resolver accepts, or None for a name.

    Beyond dotted quads, inet_aton reads ``2130706433`` or ``0x7f.1`` as 127.0.0.1, and so does
    the resolver at delivery; a check that took them for names would let them through.
    """
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        pass
    if not _INET_ATON_CHARS.fullmatch(name):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(name))
    except OSError:
        return None  # e.g. ``face.cafe``: hex letters, but a name


def _is_dns_name(name: str) -> bool:
    """Whether ``name`` (IDNA-encoded, lower case) can be looked up: letters, digits, ``-``
    and ``_`` in labels of 1-63 bytes, 253 in all.

    The resolver raises ``UnicodeError`` rather than ``OSError`` for a label over 63 bytes.
    """
    return len(name) <= 253 and all(_DNS_LABEL.fullmatch(label) for label in name.split("."))
