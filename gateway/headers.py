"""Security headers on every response, as one pure ASGI middleware.

Pure ASGI, like the request context, so unknown routes, problem responses and redirects get
them too. The API answers JSON that no browser should render, frame or sniff: the strictest
policy. The Swagger UI page is the one HTML page; its policy admits the CDN Swagger UI loads
from and the hash of its inline bootstrap script, for that page only. Answers to credentialed
calls and to /auth/* carry tokens or personal data, so no cache may keep them.
"""

from __future__ import annotations

import base64
import hashlib
import re

from litestar.enums import ScopeType
from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Message,
    Receive,
    Scope,
    Send,
)

from gateway.openapi import SWAGGER_CDN

ALWAYS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
API_POLICY = b"default-src 'none'; frame-ancestors 'none'"
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
NO_STORE = (b"cache-control", b"no-store")
CSP = b"content-security-policy"
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\ssrc=)[^>]*>(.*?)</script>", re.DOTALL | re.I)


def docs_policy(page: bytes) -> bytes:
    """The docs page's policy: Swagger UI from its CDN, the page's own inline scripts by hash,
    inline styles (Swagger UI sets them at run time) and calls to this API only."""
    scripts = " ".join(
        [SWAGGER_CDN]
        + [
            f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
            for script in _INLINE_SCRIPT.findall(page)
        ]
    )
    return (
        f"default-src 'none'; script-src {scripts}; "
        f"style-src {SWAGGER_CDN} 'unsafe-inline'; img-src 'self' data: {SWAGGER_CDN}; "
        "connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
    ).encode()


def security_headers(app: ASGIApp, *, hsts: bool, docs_path: str, private_prefix: str) -> ASGIApp:
    """Add the headers to every HTTP response of ``app``, replacing any it set itself.

    ``hsts``: send Strict-Transport-Security (production, where clients reach us over TLS);
    ``docs_path``: the Swagger UI page; ``private_prefix``: paths never cached (/auth/).
    """
    fixed = (*ALWAYS, HSTS) if hsts else ALWAYS

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        path: str = scope["path"]
        credentials = any(name == b"authorization" for name, _ in scope["headers"])
        headers = (*fixed, NO_STORE) if credentials or path.startswith(private_prefix) else fixed
        if path.rstrip("/") == docs_path:
            await app(scope, receive, _sending_page(send, headers))
        else:
            await app(scope, receive, _sending(send, (*headers, (CSP, API_POLICY))))

    return middleware


def _sending(send: Send, headers: tuple[tuple[bytes, bytes], ...]) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            _replace(message, headers)
        await send(message)

    return sending


def _sending_page(send: Send, headers: tuple[tuple[bytes, bytes], ...]) -> Send:
    """Hold the response's start until its body is complete: the policy hashes the page."""
    start: HTTPResponseStartEvent | None = None
    body: list[bytes] = []

    async def sending(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if message["type"] != "http.response.body" or start is None:
            await send(message)
            return
        body.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        page = b"".join(body)
        await send(_replace(start, (*headers, (CSP, docs_policy(page)))))
        whole: HTTPResponseBodyEvent = {
            "type": "http.response.body",
            "body": page,
            "more_body": False,
        }
        await send(whole)

    return sending


def _replace(
    start: HTTPResponseStartEvent, headers: tuple[tuple[bytes, bytes], ...]
) -> HTTPResponseStartEvent:
    names = {name for name, _ in headers}
    kept = [(name, value) for name, value in start.get("headers", ()) if name.lower() not in names]
    start["headers"] = [*kept, *headers]
    return start
