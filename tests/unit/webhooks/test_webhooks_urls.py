"""SSRF rules: which addresses are public, which URLs are refused, and the resolver guard."""

from __future__ import annotations

import ipaddress

import msgspec
import pytest

from shared.config import Settings, load_settings
from shared.errors import ValidationFailed
from shared.webhooks import delivery
from shared.webhooks.urls import Refused, check_endpoint_url, is_public, public_address, url_problem


@pytest.fixture(scope="module")
def strict() -> Settings:
    settings = load_settings(
        {
            "GHOSTPEN_ENV": "test",
            "DATABASE_URL": "postgresql+asyncpg://u:p@localhost/db",
            "REDIS_URL": "redis://localhost:6379/0",
            "JWT_SECRET": "test-only-secret-0123456789abcdefghijklmnopqrstuvwxyz",
        }
    )
    return msgspec.structs.replace(
        settings, webhook_allow_private_networks=False, webhook_timeout=2.0
    )


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("127.8.9.10", False),
        ("::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("172.31.255.254", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("fd00:ec2::254", False),
        ("fe80::1", False),
        ("0.0.0.0", False),  # noqa: S104 - an address under test, nothing binds
        ("100.64.0.1", False),
        ("224.0.0.1", False),
        ("255.255.255.255", False),
        ("8.8.8.8", True),
        ("172.32.0.1", True),
        ("1.1.1.1", True),
        ("2606:4700:4700::1111", True),
        ("::ffff:8.8.8.8", True),
        # IPv6 that carries an IPv4 address: NAT64 is judged by the IPv4 address inside, the
        # deprecated or relay-dependent ranges are refused whatever they carry.
        ("64:ff9b::7f00:1", False),
        ("64:ff9b::a9fe:a9fe", False),
        ("64:ff9b::808:808", True),
        ("64:ff9b:1::7f00:1", False),
        ("64:ff9b:1::808:808", False),
        ("::127.0.0.1", False),
        ("::8.8.8.8", False),
        ("2002:7f00:1::", False),
        ("2002:808:808::1", False),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),
        ("5f00::1", False),  # reserved, yet is_global on Python 3.11
    ],
)
def test_is_public(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("https://hooks.example.com/ghostpen", False),
        ("http://8.8.8.8:8080/hook", False),
        ("http://127.0.0.1/hook", True),
        ("http://[::1]:8000/hook", True),
        ("http://[::ffff:127.0.0.1]/hook", True),
        ("http://10.0.0.5/hook", True),
        ("http://172.16.3.4/hook", True),
        ("http://192.168.0.10/hook", True),
        ("http://169.254.169.254/latest/meta-data/", True),
        ("http://[fd00:ec2::254]/", True),
        ("http://0.0.0.0:9000/", True),
        ("http://localhost:8000/hook", True),
        ("http://api.localhost/hook", True),
        ("ftp://example.com/hook", True),
        ("https://user:pass@example.com/hook", True),
        ("http://example.com:99999/hook", True),
        ("https://bücher.example/hook", False),
        (f"https://{'a' * 63}.example.com/hook", False),
        # The resolver raised UnicodeError (a 500) on names it cannot encode; found by fuzzing.
        (f"https://{'0' * 64}/hook", True),
        (f"https://{'a.' * 127}example/hook", True),
        ("https://a..example.com/hook", True),
        ("https://ex%20ample.com/hook", True),
        ("http://[::127.0.0.1]/", True),
        ("http://[64:ff9b::7f00:1]/", True),
        ("http://[64:ff9b:1::7f00:1]/", True),
        ("http://[2002:7f00:1::]/", True),
        ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", True),
        ("http://[64:ff9b::808:808]/hook", False),
        # Spellings the resolver reads as IPv4 addresses (inet_aton), not names.
        ("http://0/", True),
        ("http://017700000001/", True),
        ("http://2130706433/", True),
        ("http://0x7f000001/", True),
        ("http://0X7F.1/", True),
        ("http://127.1/", True),
        ("http://127.0.1/", True),
        ("http://2852039166/", True),
        ("http://134744072/hook", False),  # 8.8.8.8
        ("https://face.cafe/hook", False),  # hex digits, but a name
        # What httpx normalises: fullwidth and ideographic dots.
        ("http://127。0。0。1/", True),
        ("http://127．0．0．1/", True),
        ("http://127．0．0．1．/", True),
        ("https://hooks．example．com/", False),
        ("http://example.com:0/hook", True),
        ("http://example.com:-1/hook", True),
        ("http://example.com:65535/hook", False),
    ],
)
def test_url_problem(url: str, refused: bool) -> None:
    assert (url_problem(url, allow_private=False) is not None) is refused


@pytest.mark.parametrize(
    "url",
    [
        "http://0251.0376.0251.0376/",
        "http://①②⑦.⓪.⓪.①:1/",
        "http://0135.0270.0330.042/hook",
        "http://ｅｘａｍｐｌｅ.com/",
    ],
)
def test_urls_the_sender_cannot_parse_are_refused_even_on_private_networks(url: str) -> None:
    """They were accepted, then crashed every delivery attempt (httpx.InvalidURL)."""
    for allow_private in (False, True):
        assert (url_problem(url, allow_private=allow_private) or "").startswith("not a valid URL")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://2130706433/", "2130706433 is the IPv4 address 127.0.0.1"),
        ("http://0x7f000001/", "0x7f000001 is the IPv4 address 127.0.0.1"),
        ("http://127．0．0．1/", "private, loopback, link-local or reserved"),
        ("http://[64:ff9b::7f00:1]/", "private, loopback, link-local or reserved"),
        ("http://[2002:808:808::1]/", "IPv4-compatible, 6to4, Teredo or local-use NAT64"),
        ("http://[::1]/", "private, loopback, link-local or reserved"),
        ("http://example.com:0/", "port must be between 1 and 65535"),
        ("http://example.com:99999/", "port must be between 1 and 65535"),
    ],
)
def test_refusals_say_why(url: str, message: str) -> None:
    assert message in (url_problem(url, allow_private=False) or "")


def test_private_networks_allowed_by_operator() -> None:
    assert url_problem("http://127.0.0.1:8000/hook", allow_private=True) is None
    assert url_problem("http://2130706433:8000/hook", allow_private=True) is None
    assert url_problem("http://example.com:0/hook", allow_private=True) is not None
    assert url_problem("ftp://127.0.0.1/hook", allow_private=True) is not None
    assert url_problem(f"http://{'a' * 64}/hook", allow_private=True) is not None


async def test_resolver_refuses_a_name_that_resolves_to_loopback() -> None:
    with pytest.raises(Refused, match=r"127\.0\.0\.1|::1"):
        await public_address("localhost", 80)


async def test_resolver_accepts_a_public_address() -> None:
    assert str(await public_address("8.8.8.8", 443)) == "8.8.8.8"


async def test_unresolvable_host_is_refused() -> None:
    with pytest.raises(Refused, match="does not resolve"):
        await public_address("no-such-host.invalid", 80)


async def test_endpoint_check_resolves_the_host(strict: Settings) -> None:
    with pytest.raises(ValidationFailed) as refused:
        await check_endpoint_url(strict, "http://no-such-host.invalid/hook", "url")
    assert refused.value.errors[0].field == "url"


async def test_sender_refuses_without_connecting(strict: Settings) -> None:
    outcome = await delivery.send(strict, "http://169.254.169.254/latest/", {}, b"{}")
    assert outcome.refused
    assert outcome.status_code is None
    assert "link-local" in (outcome.error or "")


@pytest.mark.parametrize("allow_private", [False, True])
async def test_sender_refuses_a_url_it_cannot_parse(strict: Settings, allow_private: bool) -> None:
    settings = msgspec.structs.replace(strict, webhook_allow_private_networks=allow_private)
    outcome = await delivery.send(settings, "http://0251.0376.0251.0376/", {}, b"{}")
    assert outcome.refused
    assert (outcome.error or "").startswith("not a valid URL")
