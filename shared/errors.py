"""One error hierarchy: each class carries its HTTP status and stable ``code``.

Services raise these; the gateway renders them as problem+json in one handler and the workers
record ``code`` on failed jobs, so a client sees the same vocabulary everywhere.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec


class FieldError(msgspec.Struct, frozen=True):
    field: str
    message: str


class AppError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal server error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: list[FieldError] | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors or []
        self.retry_after = retry_after


class BadRequest(AppError):
    """A request malformed below its body, e.g. a ``Host`` header that is no host name."""

    status, code, title = 400, "bad_request", "Bad request"


class InvalidJson(AppError):
    status, code, title = 400, "invalid_json", "Request body is not valid JSON"


class ValidationFailed(AppError):
    status, code, title = 422, "validation_error", "Request is not valid"


class HttpsRequired(AppError):
    status, code, title = 400, "https_required", "HTTPS is required"


class PayloadTooLarge(AppError):
    status, code, title = 413, "payload_too_large", "Request body is too large"


class Unauthorized(AppError):
    status, code, title = 401, "unauthorized", "Authentication required"


class TokenExpired(Unauthorized):
    code, title = "token_expired", "Access token has expired"


class Forbidden(AppError):
    status, code, title = 403, "forbidden", "Not allowed"


class NotFound(AppError):
    status, code, title = 404, "not_found", "Resource not found"


class MethodNotAllowed(AppError):
    status, code, title = 405, "method_not_allowed", "Method not allowed"


class Conflict(AppError):
    status, code, title = 409, "conflict", "Conflict with the current state"


class IdempotencyConflict(Conflict):
    code, title = "idempotency_conflict", "Idempotency key reused with a different request"


class BudgetExceeded(AppError):
    status, code, title = 402, "budget_exceeded", "Monthly budget exceeded"


class RateLimited(AppError):
    status, code, title = 429, "rate_limited", "Too many requests"


class ServiceUnavailable(AppError):
    status, code, title = 503, "service_unavailable", "Service temporarily unavailable"

    def __init__(self, detail: str | None = None, *, retry_after: int = 2) -> None:
        super().__init__(detail, retry_after=retry_after)


class InternalError(AppError):
    """Never carries internals: the detail is generic and the cause is only logged."""
