"""Document the problem+json errors every operation can return, in one place.

Litestar documents only its own 400 shape; our single exception handler answers with
:class:`gateway.problems.Problem` instead, so the served document is corrected once at start-up.
What follows from an operation's shape (a body, parameters, security, an id in the path, an
``Idempotency-Key``) is added here; an error only a handler knows about is declared on it with
``opt={PROBLEMS: (errors.Conflict,)}``. Errors sharing a status share its response, which
names each of their codes (a 400 is ``bad_request``, or ``invalid_json`` where there is a
body). The same start-up pass mends Litestar's schema for ``int | float`` (see
:func:`_numbers_once`). Schemathesis holds every answer to the result
(tests/security/test_fuzz.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from litestar import Litestar
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import (
    Components,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    Operation,
    Reference,
    Schema,
)
from litestar.openapi.spec.enums import OpenAPIType
from litestar.routes import HTTPRoute

from gateway.problems import PROBLEM_MEDIA_TYPE
from shared import errors

# Swagger UI comes from the CDN Litestar defaults to, pinned here so that the docs page's
# Content-Security-Policy (gateway/headers.py) admits exactly this origin.
SWAGGER_CDN = "https://cdn.jsdelivr.net"
_SWAGGER_UI = f"{SWAGGER_CDN}/npm/swagger-ui-dist@5.18.2"

_STRING = Schema(type=OpenAPIType.STRING)
PROBLEM_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    required=["type", "title", "status", "detail", "code"],
    properties={
        "type": _STRING,
        "title": _STRING,
        "status": Schema(type=OpenAPIType.INTEGER),
        "detail": _STRING,
        "code": _STRING,
        "request_id": _STRING,
        "errors": Schema(
            type=OpenAPIType.ARRAY,
            items=Schema(
                type=OpenAPIType.OBJECT,
                required=["field", "message"],
                properties={"field": _STRING, "message": _STRING},
            ),
        ),
    },
    description="RFC 9457 problem details with a stable `code` (see docs/errors.md).",
)
# A malformed request (a bad Host header) is a 400 whatever the operation.
_ALWAYS = (errors.BadRequest, errors.InternalError, errors.ServiceUnavailable, errors.RateLimited)
# Route option: the errors a handler raises that its shape does not tell.
PROBLEMS = "problems"


def _integer_header(description: str) -> OpenAPIHeader:
    return OpenAPIHeader(schema=Schema(type=OpenAPIType.INTEGER), description=description)


_HEADERS: dict[type[errors.AppError], dict[str, OpenAPIHeader | Reference]] = {
    errors.ServiceUnavailable: {"Retry-After": _integer_header("Seconds to wait before retrying.")},
    errors.RateLimited: {
        "Retry-After": _integer_header("Seconds until the spent budget frees a request."),
        "RateLimit-Limit": _integer_header("Requests the caller's budget allows per window."),
        "RateLimit-Remaining": _integer_header("Requests left in the window (0 here)."),
        "RateLimit-Reset": _integer_header("Seconds until the budget frees a request."),
    },
}


def _problem(group: Sequence[type[errors.AppError]]) -> OpenAPIResponse:
    """The response of one status, naming every error of ``group`` that answers with it."""
    headers = {name: header for error in group for name, header in _HEADERS.get(error, {}).items()}
    return OpenAPIResponse(
        description="; ".join(f"{error.title} (`{error.code}`)" for error in group),
        content={
            PROBLEM_MEDIA_TYPE: OpenAPIMediaType(schema=Reference("#/components/schemas/Problem"))
        },
        headers=headers or None,
    )


def _errors_for(
    operation: Operation, method: str, path: str, declared: Sequence[type[errors.AppError]]
) -> list[type[errors.AppError]]:
    found: list[type[errors.AppError]] = [*_ALWAYS, *declared]
    if operation.request_body is not None:
        found += [errors.InvalidJson, errors.PayloadTooLarge]
    if operation.request_body is not None or operation.parameters:
        found.append(errors.ValidationFailed)
    if operation.security:
        found += [errors.Unauthorized, errors.Forbidden]
    if "{" in path or operation.security:
        found.append(errors.NotFound)
    if method == "post" and "{" in path:
        found.append(errors.Conflict)
    if any(getattr(p, "name", None) == "Idempotency-Key" for p in operation.parameters or ()):
        found.append(errors.IdempotencyConflict)
    if method != "get":  # in production, sent over plain HTTP through the proxy (a GET: 308)
        found.append(errors.HttpsRequired)
    return list(dict.fromkeys(found))


def _declared_problems(app: Litestar) -> dict[tuple[str, str], Sequence[type[errors.AppError]]]:
    """``(path, method)`` → the errors its handler declares under :data:`PROBLEMS`."""
    declared: dict[tuple[str, str], Sequence[type[errors.AppError]]] = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                for method in handler.http_methods:
                    declared[route.path_format, method.lower()] = handler.opt.get(PROBLEMS, ())
    return declared


def _numbers_once(node: Any) -> None:
    """Drop ``integer`` from a ``oneOf`` that also admits ``number``.

    Litestar documents ``int | float`` as ``oneOf: [integer, number]``, which no integer
    satisfies: JSON Schema counts 1 as both. ``number`` alone says what the API accepts.
    """
    if isinstance(node, list | tuple):
        for item in node:
            _numbers_once(item)
    elif isinstance(node, dict):
        for item in node.values():
            _numbers_once(item)
    elif dataclasses.is_dataclass(node):
        if isinstance(node, Schema) and node.one_of:
            kinds = {getattr(option, "type", None) for option in node.one_of}
            if OpenAPIType.NUMBER in kinds:
                node.one_of = [
                    o for o in node.one_of if getattr(o, "type", None) != OpenAPIType.INTEGER
                ]
        for item in dataclasses.fields(node):
            _numbers_once(getattr(node, item.name))


def finish_document(app: Litestar) -> None:
    """Replace Litestar's default error shape with ours on every operation; fix number unions."""
    schema = app.openapi_schema
    _numbers_once(schema)
    schema.components = schema.components or Components()
    if schema.components.schemas is None:
        schema.components.schemas = {}
    schema.components.schemas["Problem"] = PROBLEM_SCHEMA
    declared = _declared_problems(app)
    for path, item in (schema.paths or {}).items():
        for method in ("get", "put", "post", "delete", "patch"):
            operation: Operation | None = getattr(item, method)
            if operation is None or operation.responses is None:
                continue
            operation.responses.pop("400", None)
            by_status: dict[int, list[type[errors.AppError]]] = {}
            for error in _errors_for(operation, method, path, declared.get((path, method), ())):
                by_status.setdefault(error.status, []).append(error)
            for status, group in by_status.items():
                operation.responses.setdefault(str(status), _problem(group))


def swagger_plugin() -> SwaggerRenderPlugin:
    """The interactive docs page, loading Swagger UI from :data:`SWAGGER_CDN` only."""
    return SwaggerRenderPlugin(
        path="/",
        js_url=f"{_SWAGGER_UI}/swagger-ui-bundle.js",
        css_url=f"{_SWAGGER_UI}/swagger-ui.css",
        standalone_preset_js_url=f"{_SWAGGER_UI}/swagger-ui-standalone-preset.js",
    )
