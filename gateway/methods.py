"""``Allow`` names every method of the path, on OPTIONS answers as on 405s.

Litestar 2 answers OPTIONS from the first handler registered for a path, so its ``Allow`` misses
the others (litestar-org/litestar#4169, fixed in Litestar 3); the route itself knows them all.
"""

from __future__ import annotations

from litestar.datastructures import MutableScopeHeaders
from litestar.routes import HTTPRoute
from litestar.types import Message, Scope


async def allow_every_method(message: Message, scope: Scope) -> None:
    """Litestar ``before_send`` hook: rewrite ``Allow`` on an OPTIONS answer from the route."""
    if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
        return
    headers = MutableScopeHeaders.from_message(message)
    if "allow" not in headers:
        return  # a CORS preflight, answered by the CORS middleware
    template = scope.get("path_template")
    methods = {
        method
        for route in scope["litestar_app"].routes
        if isinstance(route, HTTPRoute) and route.path_format == template
        for method in route.methods
    }
    if methods:
        headers["Allow"] = ", ".join(sorted(methods))
