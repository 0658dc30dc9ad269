"""One handler renders every error as RFC 9457 problem+json with a stable ``code``.

Litestar's own exceptions (routing, body decoding, other bad requests, validation, size
limit) are translated into the same vocabulary as the domain errors, and infrastructure
failures (database or Redis unreachable) become a quick 503 with ``Retry-After``; nothing ever
leaks a traceback.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    SerializationException,
    ValidationException,
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from loguru import logger

from shared import errors
from shared.availability import is_unavailable
from shared.errors import AppError, FieldError

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://ghostpen.dev/errors/"


class Problem(msgspec.Struct, omit_defaults=True):
    type: str
    title: str
    status: int
    detail: str
    code: str
    request_id: str | None = None
    errors: list[FieldError] = msgspec.field(default_factory=list)


def _field_errors(extra: Any) -> list[FieldError]:
    items = extra if isinstance(extra, list) else []
    result = []
    for item in items:
        if isinstance(item, dict):
            field = str(item.get("key") or item.get("source") or "body")
            result.append(FieldError(field=field, message=str(item.get("message", "invalid"))))
    return result


def _translate(exc: Exception) -> AppError:
    """Map any exception raised while handling a request to a domain error."""
    if isinstance(exc, AppError):
        return exc
    if isinstance(exc, ValidationException):
        return errors.ValidationFailed(errors=_field_errors(exc.extra))
    if isinstance(exc, RequestEntityTooLarge):
        return errors.PayloadTooLarge()
    if isinstance(exc, NotFoundException):
        return errors.NotFound()
    if isinstance(exc, MethodNotAllowedException):
        return errors.MethodNotAllowed()
    if isinstance(exc, NotAuthorizedException):
        return errors.Unauthorized()
    if isinstance(exc, PermissionDeniedException):
        return errors.Forbidden()
    if isinstance(exc, HTTPException) and exc.status_code == 400:
        # Litestar raises its 400 for a body it cannot decode from the decoder's error; its
        # other 400s (a bad Host header, a bad Content-Length) have nothing to do with JSON.
        if isinstance(exc.__cause__, SerializationException):
            return errors.InvalidJson(_body_problem(exc))
        return errors.BadRequest(str(exc.detail))
    if isinstance(exc, HTTPException) and 400 <= exc.status_code < 500:
        return errors.ValidationFailed(str(exc.detail))
    if is_unavailable(exc):
        return errors.ServiceUnavailable("a backing service is unreachable; retry shortly")
    return errors.InternalError()


def _body_problem(exc: HTTPException) -> str:
    detail = str(exc.detail)
    return "request body is not valid JSON" if "JSON" in detail or "json" in detail else detail


def problem(error: AppError, request_id: str | None) -> Problem:
    """The problem+json body of ``error``."""
    return Problem(
        type=TYPE_BASE + error.code,
        title=error.title,
        status=error.status,
        detail=error.detail,
        code=error.code,
        request_id=request_id,
        errors=error.errors,
    )


def problem_response(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    error = _translate(exc)
    if isinstance(error, errors.InternalError) and error is not exc:
        logger.opt(exception=exc).error("http.unhandled_error", path=request.url.path)
    elif isinstance(error, errors.ServiceUnavailable) and error is not exc:
        logger.warning("http.dependency_unavailable", error=type(exc).__name__)
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else {}
    if isinstance(error, errors.Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="ghostpen"'
    if isinstance(exc, MethodNotAllowedException) and exc.headers and "allow" in exc.headers:
        headers["Allow"] = exc.headers["allow"]  # the route's methods (RFC 9110, 15.5.6)
    return Response(
        content=problem(error, request.scope.get("state", {}).get("request_id")),
        status_code=error.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


EXCEPTION_HANDLERS = {Exception: problem_response}
__all__ = ["EXCEPTION_HANDLERS", "PROBLEM_MEDIA_TYPE", "Problem", "problem", "problem_response"]
