"""Logging, tracing and metrics shared by the gateway and the workers."""

from shared.observability.logging import (
    SENSITIVE_KEYS,
    configure_logging,
    mask,
    new_request_id,
    valid_request_id,
)
from shared.observability.metrics import (
    HTTP_LATENCY,
    HTTP_REQUESTS,
    JOB_ATTEMPTS_RETRIED,
    JOB_STATS,
    JOBS_BY_STATUS,
    LIVE_WORKERS,
    MODEL_CALL_DURATION,
    QUEUE_DEPTH,
    REGISTRY,
    render_latest,
)
from shared.observability.tracing import (
    configure_tracing,
    context_from_traceparent,
    current_traceparent,
    get_tracer,
    instrument_asgi,
    shutdown_tracing,
)

__all__ = [
    "HTTP_LATENCY",
    "HTTP_REQUESTS",
    "JOBS_BY_STATUS",
    "JOB_ATTEMPTS_RETRIED",
    "JOB_STATS",
    "LIVE_WORKERS",
    "MODEL_CALL_DURATION",
    "QUEUE_DEPTH",
    "REGISTRY",
    "SENSITIVE_KEYS",
    "configure_logging",
    "configure_tracing",
    "context_from_traceparent",
    "current_traceparent",
    "get_tracer",
    "instrument_asgi",
    "mask",
    "new_request_id",
    "render_latest",
    "shutdown_tracing",
    "valid_request_id",
]
