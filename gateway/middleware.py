"""Request context: request id, log context and HTTP metrics, as one pure ASGI middleware.

Pure ASGI (not a Litestar middleware class) so it wraps everything, including the responses
of the problem handler, and costs one function call per request.
"""

from __future__ import annotations

import time
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from loguru import logger

from shared.observability.logging import new_request_id, valid_request_id
from shared.observability.metrics import HTTP_LATENCY, HTTP_REQUESTS

REQUEST_ID_HEADER = b"x-request-id"
# Clients choose the method string; bound the label set so metrics cardinality stays fixed.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _incoming_request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            candidate = value.decode("latin-1")
            return candidate if valid_request_id(candidate) else new_request_id()
    return new_request_id()


def request_context(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        http_scope = scope
        request_id = _incoming_request_id(scope)
        state: dict[str, Any] = http_scope.setdefault("state", {})
        state["request_id"] = request_id
        status_code = 500
        started = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                headers = list(message.get("headers", ()))
                headers.append((REQUEST_ID_HEADER, request_id.encode()))
                message["headers"] = headers
            await send(message)

        with logger.contextualize(request_id=request_id):
            try:
                await app(scope, receive, send_with_headers)
            finally:
                elapsed = time.perf_counter() - started
                route = http_scope.get("path_template") or "unmatched"
                method = http_scope["method"] if http_scope["method"] in KNOWN_METHODS else "OTHER"
                HTTP_REQUESTS.labels(method, route, str(status_code)).inc()
                HTTP_LATENCY.labels(method, route).observe(elapsed)

    return middleware
