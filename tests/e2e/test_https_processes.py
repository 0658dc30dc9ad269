"""HTTPS as deployed: a real ``ghostpen gateway`` serving TLS itself, and one behind nginx running
deploy/nginx/ghostpen.conf. Certificates come from a CA made for the run (trustme).

Both gateways run in production with ``TRUSTED_PROXIES=127.0.0.1/32``: a write that a trusted
peer says arrived over plain HTTP is refused, so one served through nginx proves the gateway saw
the client as HTTPS, and one served over direct TLS that production does not refuse it. The
nginx tests need the ``nginx`` binary and are skipped without it.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ghostpen.embedded import free_port
from shared.config import load_settings
from tests.fakes.openai_server import FakeOpenAI
from tests.support import nginx
from tests.support.admin import problem
from tests.support.processes import Fleet, run_platform, sign_up
from tests.support.tls import TestCertificate, issue_certificate

pytestmark = pytest.mark.e2e
READY = "/health/ready?workers=false"  # no worker runs: nothing here queues a job
PRODUCTION = {"GHOSTPEN_ENV": "production", "TRUSTED_PROXIES": "127.0.0.1/32"}
needs_nginx = pytest.mark.skipif(
    nginx.NGINX is None,
    reason="no nginx binary (apt-get install nginx-light); tests/unit/deploy reads the file",
)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> TestCertificate:
    return issue_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def fleet(fake_openai: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """A migrated production database and Redis; the tests start their gateways on it."""
    logs = tmp_path_factory.mktemp("logs")
    with run_platform(fake_openai, logs, gateways=0, workers=0, extra_env=PRODUCTION) as platform:
        processes = Fleet(platform.env, logs)
        try:
            yield processes
        finally:
            processes.stop()


@dataclass(frozen=True)
class Gateways:
    tls_url: str  # serving HTTPS itself
    plain_url: str  # serving HTTP, for nginx to proxy to


@pytest.fixture(scope="module")
def gateways(fleet: Fleet, certificate: TestCertificate) -> Gateways:
    """Both gateways, started together: most of their start-up is importing the app."""
    fleet.spawn_gateway(tls=certificate)
    fleet.spawn_gateway()
    tls_url, plain_url = fleet.gateway_urls
    fleet.wait_ready(tls_url, path=READY, verify=certificate.trust)
    fleet.wait_ready(plain_url, path=READY)
    return Gateways(tls_url, plain_url)


def test_direct_tls_serves_clients_that_trust_the_ca(
    gateways: Gateways, certificate: TestCertificate
) -> None:
    with httpx.Client(base_url=f"{gateways.tls_url}/api/v1", verify=certificate.trust) as api:
        headers = sign_up(api, "direct-tls@example.com")  # POSTs, served in production
        me = api.get("/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["email"] == "direct-tls@example.com"
    assert me.headers["strict-transport-security"].startswith("max-age=")
    # The certificate is the test CA's: a client trusting only the usual CAs refuses it.
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{gateways.tls_url}/health/live")


def test_direct_tls_does_not_serve_plain_http(
    gateways: Gateways, certificate: TestCertificate
) -> None:
    plain = gateways.tls_url.replace("https://", "http://")
    with pytest.raises(httpx.TransportError):
        httpx.post(f"{plain}/api/v1/auth/login", json={"email": "a@example.com", "password": "x"})
    # Refused, not crashed: the next HTTPS request is served.
    assert httpx.get(f"{gateways.tls_url}{READY}", verify=certificate.trust).status_code == 200


@dataclass(frozen=True)
class Site:
    """nginx on 127.0.0.1 in front of a plain-HTTP gateway."""

    http_url: str
    https_url: str
    gateway_url: str
    conf: Path


@pytest.fixture(scope="module")
def site(
    gateways: Gateways, certificate: TestCertificate, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    listen = nginx.Listen(
        http_port=free_port(),
        https_port=free_port(),
        upstream_port=int(gateways.plain_url.rsplit(":", 1)[1]),
    )
    conf = nginx.render(tmp_path_factory.mktemp("nginx"), listen, certificate)
    with nginx.run(conf, listen, certificate):
        yield Site(
            http_url=f"http://127.0.0.1:{listen.http_port}",
            https_url=f"https://127.0.0.1:{listen.https_port}",
            gateway_url=gateways.plain_url,
            conf=conf,
        )


@needs_nginx
def test_nginx_accepts_the_rendered_config(site: Site) -> None:
    result = subprocess.run(
        nginx.command(site.conf, "-t"), capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@needs_nginx
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_plain_http_is_redirected_to_https(site: Site, method: str) -> None:
    response = httpx.request(method, f"{site.http_url}/api/v1/auth/login?next=1")
    assert response.status_code == 301
    assert response.headers["location"] == "https://127.0.0.1/api/v1/auth/login?next=1"


@needs_nginx
def test_https_through_nginx_reaches_the_gateway_as_https(
    site: Site, certificate: TestCertificate
) -> None:
    with httpx.Client(base_url=f"{site.https_url}/api/v1", verify=certificate.trust) as api:
        headers = sign_up(api, "via-nginx@example.com")  # POSTs, served in production
        me = api.get("/me", headers=headers)
        # nginx replaces a scheme the client claims with the one it saw.
        forged = api.get("/me", headers={**headers, "X-Forwarded-Proto": "http"})
    assert me.status_code == 200
    assert me.json()["email"] == "via-nginx@example.com"
    assert me.headers.get_list("strict-transport-security") == [
        "max-age=31536000; includeSubDomains"
    ]  # the gateway's, once: nginx adds none
    assert forged.status_code == 200
    # What the gateway does when its trusted proxy reports plain HTTP: nginx never sends that.
    direct = httpx.post(
        f"{site.gateway_url}/api/v1/auth/login",
        json={"email": "via-nginx@example.com", "password": "x"},
        headers={"X-Forwarded-Proto": "http"},
    )
    problem(direct, 400, "https_required")


@needs_nginx
def test_nginx_refuses_bodies_over_the_gateway_limit(
    site: Site, fleet: Fleet, certificate: TestCertificate
) -> None:
    limit = load_settings(fleet.env).max_body_bytes
    response = httpx.post(
        f"{site.https_url}/api/v1/auth/login",
        content=b"x" * (limit + 1),
        headers={"Content-Type": "application/json"},
        verify=certificate.trust,
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "text/html"  # nginx's page: it never reached us
