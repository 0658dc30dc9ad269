"""deploy/nginx/ghostpen.conf keeps the promises the gateway relies on.

Read with crossplane (nginx's own grammar, directive contexts and argument counts) inside the
``http {}`` of a generated nginx.conf, as nginx reads it. Limits are compared with the gateway's
defaults and caps from code; tests/e2e/test_https_processes.py runs the same file in nginx.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Any

import crossplane
import pytest

from shared.config import load_settings
from shared.jobs.schemas import MAX_WAIT_SECONDS
from tests.support.nginx import CONFIG, main_config

Directive = dict[str, Any]
Block = list[Directive]
ACME = "/.well-known/acme-challenge/"
SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
TIME_UNITS = {"ms": 0.001, "": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
# nginx's own default, when the file does not set it.
DEFAULT_PROXY_READ_TIMEOUT = "60s"


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Block:
    """The ``http {}`` block with the deployed file included in place."""
    conf = tmp_path_factory.mktemp("nginx") / "nginx.conf"
    conf.write_text(main_config(CONFIG))
    parsed = crossplane.parse(str(conf), check_ctx=True, check_args=True, combine=True)
    assert parsed["status"] == "ok", parsed["errors"]
    [top] = parsed["config"]
    [block] = [d["block"] for d in top["parsed"] if d["directive"] == "http"]
    return block


def named(block: Block, name: str) -> list[Directive]:
    return [d for d in block if d["directive"] == name]


def walk(block: Block) -> Iterator[Directive]:
    for directive in block:
        yield directive
        yield from walk(directive.get("block", []))


def effective(name: str, *levels: Block) -> list[list[str]]:
    """``name``'s arguments as nginx applies them at the first level (innermost first): a
    directive set in a block replaces, not extends, what the enclosing blocks set."""
    for level in levels:
        if found := named(level, name):
            return [d["args"] for d in found]
    return []


def servers(http: Block, port: str) -> list[Block]:
    found = [
        server["block"]
        for server in named(http, "server")
        if any(
            listen["args"][0].rsplit(":", 1)[-1] == port
            for listen in named(server["block"], "listen")
        )
    ]
    assert found, f"no server listens on {port}"
    return found


def proxied(http: Block) -> Iterator[tuple[str, Block, Block]]:
    """(location, its block, its server's block) for every location that proxies."""
    for server in servers(http, "443"):
        for location in named(server, "location"):
            if named(location["block"], "proxy_pass"):
                yield " ".join(location["args"]), location["block"], server


def size(value: str) -> int:
    """Bytes in an nginx size (``1m``, ``512k``, ``1048576``)."""
    matched = re.fullmatch(r"(\d+)([kmg]?)", value.lower())
    assert matched, value
    return int(matched[1]) * SIZE_UNITS[matched[2]]


def seconds(value: str) -> float:
    """Seconds in an nginx time (``75s``, ``1m``, ``500ms``, ``75``)."""
    matched = re.fullmatch(r"(\d+)(ms|[smhd]?)", value)
    assert matched, value
    return int(matched[1]) * TIME_UNITS[matched[2]]


def test_plain_http_only_redirects_to_https_except_acme(http: Block) -> None:
    for server in servers(http, "80"):
        assert not any(d["directive"] == "proxy_pass" for d in walk(server))
        for location in named(server, "location"):
            if location["args"] == [ACME]:
                assert [d["directive"] for d in location["block"]] == ["root"]
            else:
                assert [d["args"] for d in location["block"]] == [
                    ["301", "https://$host$request_uri"]
                ]


def test_https_speaks_tls_1_2_and_1_3_only(http: Block) -> None:
    for server in servers(http, "443"):
        assert all("ssl" in listen["args"] for listen in named(server, "listen"))
        assert effective("ssl_protocols", server, http) == [["TLSv1.2", "TLSv1.3"]]
        assert effective("ssl_certificate", server, http)
        assert effective("ssl_certificate_key", server, http)


def test_every_proxied_location_tells_the_gateway_the_scheme_and_the_client(http: Block) -> None:
    locations = list(proxied(http))
    assert {path for path, _, _ in locations} >= {"/", "= /metrics"}
    for path, location, server in locations:
        headers = {
            name.lower(): value
            for name, value in effective("proxy_set_header", location, server, http)
        }
        assert headers["x-forwarded-proto"] == "$scheme", path
        assert headers["x-forwarded-for"] == "$proxy_add_x_forwarded_for", path
        # The upstream's keepalive only works over HTTP/1.1 without "Connection: close".
        assert headers["connection"] == "", path
        assert effective("proxy_http_version", location, server, http) == [["1.1"]], path


def test_bodies_are_capped_at_or_below_the_gateway_limit(http: Block) -> None:
    gateway_limit = load_settings(
        {"DATABASE_URL": "postgresql://ghostpen@127.0.0.1/ghostpen", "REDIS_URL": "redis://x"}
    ).max_body_bytes
    for path, location, server in proxied(http):
        [[limit]] = effective("client_max_body_size", location, server, http)
        assert 0 < size(limit) <= gateway_limit, path  # 0 would mean unlimited


def test_long_polls_end_before_nginx_stops_reading(http: Block) -> None:
    for path, location, server in proxied(http):
        [[timeout]] = effective("proxy_read_timeout", location, server, http) or [
            [DEFAULT_PROXY_READ_TIMEOUT]
        ]
        assert seconds(timeout) > MAX_WAIT_SECONDS, path


def test_a_post_is_never_sent_to_a_second_gateway(http: Block) -> None:
    for path, location, server in proxied(http):
        for args in effective("proxy_next_upstream", location, server, http):
            assert "non_idempotent" not in args, path


def test_metrics_are_for_internal_networks_only(http: Block) -> None:
    [metrics] = [
        location["block"]
        for server in servers(http, "443")
        for location in named(server, "location")
        if location["args"] == ["=", "/metrics"]
    ]
    rules = [d for d in metrics if d["directive"] in {"allow", "deny"}]
    assert rules[-1]["directive"] == "deny"
    assert rules[-1]["args"] == ["all"]
    for rule in rules[:-1]:
        assert rule["directive"] == "allow"
        assert ipaddress.ip_network(rule["args"][0]).is_private, rule


def test_security_headers_are_left_to_the_gateway(http: Block) -> None:
    # The gateway sends them on every response; nginx adding its own would send each twice.
    assert not [d for d in walk(http) if d["directive"] in {"add_header", "more_set_headers"}]
