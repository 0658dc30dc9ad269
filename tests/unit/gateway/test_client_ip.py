"""X-Forwarded-For is believed only from trusted proxies, and only as far as they vouch."""

from __future__ import annotations

import pytest

from gateway.dependencies import client_ip

PROXIES = ("10.0.0.0/8",)


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("203.0.113.7", "198.51.100.1", (), "203.0.113.7"),  # no proxies configured
        ("203.0.113.7", "198.51.100.1", PROXIES, "203.0.113.7"),  # peer is not a proxy
        ("10.0.0.2", "198.51.100.1", PROXIES, "198.51.100.1"),
        ("10.0.0.2", "6.6.6.6, 198.51.100.1, 10.0.0.9", PROXIES, "198.51.100.1"),  # forged left
        ("10.0.0.2", "", PROXIES, "10.0.0.2"),
        ("10.0.0.2", "10.0.0.3, 10.0.0.4", PROXIES, "10.0.0.2"),  # only proxies
        ("10.0.0.2", "not-an-ip", PROXIES, "not-an-ip"),
    ],
)
def test_client_ip(peer: str, forwarded: str, trusted: tuple[str, ...], expected: str) -> None:
    assert client_ip(peer, forwarded, trusted) == expected
