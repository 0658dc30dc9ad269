"""In production, HTTPS only: what a trusted proxy received over plain HTTP is sent back to HTTPS.

TLS ends at the proxy, which tells us the client's scheme in ``X-Forwarded-Proto``; only a peer
in ``TRUSTED_PROXIES`` is believed, and a request without the header is left alone. (A gateway
serving TLS itself, ``ghostpen gateway --ssl-certfile/--ssl-keyfile``, never sees plain HTTP: the
handshake fails first, and clients connecting directly send no such header.) A read is
redirected (308 keeps the method); anything else is refused with 400 ``https_required`` rather
than redirected, because its body and credentials already crossed the network in clear, and a
client that silently followed the redirect would keep doing so. Health checks are exempt:
probes speak plain HTTP to the pod.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, HTTPScope, Receive, Scope, Send

from gateway.dependencies import from_trusted_proxy
from gateway.problems import PROBLEM_MEDIA_TYPE, problem
from shared.config import Settings
from shared.errors import HttpsRequired

EXEMPT_PREFIX = "/health/"
REDIRECTED_METHODS = frozenset({"GET", "HEAD"})
# A host name or IP literal with an optional port: anything else is not put in a Location.
_HOST = re.compile(r"(?P<name>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?")


def require_https(app: ASGIApp, settings: Settings) -> ASGIApp:
    """``app``, redirecting or refusing plain-HTTP requests in production (else ``app`` itself)."""
    if not settings.is_production:
        return app
    trusted_proxies = settings.trusted_proxies

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != ScopeType.HTTP
            or scope["path"].startswith(EXEMPT_PREFIX)
            or not _plain_http(scope, trusted_proxies)
        ):
            await app(scope, receive, send)
            return
        location = _https_url(scope)
        if location is not None and scope["method"] in REDIRECTED_METHODS:
            await _respond(send, 308, [(b"location", location), (b"content-length", b"0")], b"")
            return
        request_id = scope.get("state", {}).get("request_id")
        detail = "this API is served over HTTPS only; send the request to its https:// URL"
        body = msgspec.json.encode(problem(HttpsRequired(detail), request_id))
        headers = [
            (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        await _respond(send, HttpsRequired.status, headers, body)

    return middleware


def _plain_http(scope: HTTPScope, trusted_proxies: tuple[str, ...]) -> bool:
    """Whether a trusted proxy says the client spoke plain HTTP to it."""
    client = scope.get("client")
    if client is None or not from_trusted_proxy(client[0], trusted_proxies):
        return False
    for name, value in scope["headers"]:
        if name == b"x-forwarded-proto":
            # A chain of proxies may list one scheme per hop: the first is the client's.
            return value.split(b",")[0].strip().lower() == b"http"
    return False


def _https_url(scope: HTTPScope) -> bytes | None:
    """The request's URL with https and the default port, or None without a usable Host."""
    host = next((value for name, value in scope["headers"] if name == b"host"), b"")
    matched = _HOST.fullmatch(host.decode("latin-1"))
    if matched is None:
        return None
    path = scope.get("raw_path") or quote(scope["path"]).encode()
    query = scope["query_string"]
    return b"https://" + matched["name"].encode() + path + (b"?" + query if query else b"")


async def _respond(
    send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
