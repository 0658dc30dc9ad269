"""One HTTP attempt of a webhook, sent only to an address that passed the SSRF check.

Unless private networks are allowed, the host is resolved here, every address it resolves to
must be public, and the request goes to that checked address (``Host`` and, for https, the
TLS server name stay the original host, so certificates are verified against it): a DNS
answer that changes between the check and the connection cannot redirect the request.
Redirects are never followed, and the whole attempt has one deadline.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from dataclasses import dataclass
from typing import Any

import httpx

from shared.config import Settings
from shared.webhooks.urls import Refused, host_and_port, public_address, url_problem

USER_AGENT = "GhostPen-Webhooks/1.0"
SNIPPET_CHARS = 1000


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt got: a status code, or an error (``refused``: never sent, permanent)."""

    latency_ms: int
    status_code: int | None = None
    error: str | None = None
    response_snippet: str | None = None
    refused: bool = False

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def send(settings: Settings, url: str, headers: dict[str, str], body: bytes) -> Outcome:
    """POST ``body`` to ``url`` once; never raises for network or HTTP failures."""
    started = time.perf_counter()
    try:
        request = await _request(settings, url, headers, body)
    except Refused as refusal:
        return Outcome(latency_ms=_ms(started), error=str(refusal), refused=True)
    try:
        # httpx's timeout bounds each read; a server trickling bytes needs an overall deadline.
        async with asyncio.timeout(settings.webhook_timeout), _client(settings) as client:
            response = await client.send(request, stream=True)
            try:
                snippet = await _snippet(response)
            finally:
                await response.aclose()
    except (TimeoutError, httpx.TimeoutException):
        return Outcome(
            latency_ms=_ms(started), error=f"timed out after {settings.webhook_timeout:g} s"
        )
    except httpx.HTTPError as exc:
        return Outcome(latency_ms=_ms(started), error=f"{type(exc).__name__}: {exc}".rstrip(": "))
    error = None
    if response.is_redirect:
        error = f"redirect not followed (to {response.headers.get('location', '?')[:200]})"
    elif not response.is_success:
        error = f"HTTP {response.status_code}"
    return Outcome(
        latency_ms=_ms(started),
        status_code=response.status_code,
        error=error,
        response_snippet=snippet,
    )


async def _request(
    settings: Settings, url: str, headers: dict[str, str], body: bytes
) -> httpx.Request:
    allow_private = settings.webhook_allow_private_networks
    # Also refuses what httpx cannot parse: a stored URL accepted by an older check fails
    # its delivery for good instead of crashing every attempt.
    if problem := url_problem(url, allow_private=allow_private):
        raise Refused(problem)
    target = httpx.URL(url)
    sent_headers = {**headers, "content-type": "application/json", "user-agent": USER_AGENT}
    extensions: dict[str, Any] = {}
    if not allow_private:
        host, port = host_and_port(target)
        address = await public_address(host, port)
        sent_headers["host"] = target.netloc.decode("ascii")
        if target.scheme == "https":
            extensions["sni_hostname"] = host
        target = target.copy_with(host=str(address))
    return httpx.Request("POST", target, headers=sent_headers, content=body, extensions=extensions)


def _client(settings: Settings) -> httpx.AsyncClient:
    # trust_env off: a proxy from the environment would make the connection, not us.
    return httpx.AsyncClient(
        timeout=settings.webhook_timeout,
        follow_redirects=False,
        trust_env=False,
        verify=_tls_context(),
    )


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # Loading the CA bundle costs milliseconds; do it once per process, not per attempt.
    return httpx.create_ssl_context()


async def _snippet(response: httpx.Response) -> str | None:
    """The start of the response body (a receiver's error message), without reading it all."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= SNIPPET_CHARS * 4:  # enough bytes for SNIPPET_CHARS even in UTF-8
            break
    text = b"".join(chunks).decode("utf-8", errors="replace")[:SNIPPET_CHARS]
    return text or None


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
