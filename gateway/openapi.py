"""Document the problem+json errors every operation can return, in one place.

Litestar documents only its own 400 shape; our single exception handler answers with
:class:`gateway.problems.Problem` instead, so the served document is corrected once at start-up
rather than by annotating every handler.
"""

from __future__ import annotations

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
_ALWAYS = (errors.InternalError, errors.ServiceUnavailable, errors.RateLimited)


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


def _problem(error: type[errors.AppError]) -> OpenAPIResponse:
    return OpenAPIResponse(
        description=f"{error.title} (`{error.code}`)",
        content={
            PROBLEM_MEDIA_TYPE: OpenAPIMediaType(schema=Reference("#/components/schemas/Problem"))
        },
        headers=_HEADERS.get(error),
    )


def _errors_for(operation: Operation, method: str, path: str) -> list[type[errors.AppError]]:
    found: list[type[errors.AppError]] = list(_ALWAYS)
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
    return found


def document_problems(app: Litestar) -> None:
    """Replace Litestar's default error shape with ours on every operation."""
    schema = app.openapi_schema
    schema.components = schema.components or Components()
    if schema.components.schemas is None:
        schema.components.schemas = {}
    schema.components.schemas["Problem"] = PROBLEM_SCHEMA
    for path, item in (schema.paths or {}).items():
        for method in ("get", "put", "post", "delete", "patch"):
            operation: Operation | None = getattr(item, method)
            if operation is None or operation.responses is None:
                continue
            operation.responses.pop("400", None)
            for error in _errors_for(operation, method, path):
                operation.responses.setdefault(str(error.status), _problem(error))


def swagger_plugin() -> SwaggerRenderPlugin:
    """The interactive docs page, loading Swagger UI from :data:`SWAGGER_CDN` only."""
    return SwaggerRenderPlugin(
        path="/",
        js_url=f"{_SWAGGER_UI}/swagger-ui-bundle.js",
        css_url=f"{_SWAGGER_UI}/swagger-ui.css",
        standalone_preset_js_url=f"{_SWAGGER_UI}/swagger-ui-standalone-preset.js",
    )
