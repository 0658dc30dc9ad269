"""Prometheus metrics of the gateway and the workers.

Everything is registered in `REGISTRY`, not prometheus_client's default registry, so nothing
else leaks into /metrics and tests never hit a duplicate registration.

Several processes: the gateway may run several uvicorn workers and the ARQ workers are processes
of their own, so each process counts only what it did. For totals, set `PROMETHEUS_MULTIPROC_DIR`
to a directory shared by all of a host's processes, emptied before they start, and set it *before*
prometheus_client is first imported (it picks its storage at import). Every process then writes to
files there and `render_latest()` returns their sum through `MultiProcessCollector`, whichever
process serves the scrape. Workers on another host need the directory on a shared volume or their
own scrape target.

Jobs finished, job duration and model tokens/cost are cluster-wide counters kept in Redis
(`job_stats`), refreshed by the /metrics handler like the state gauges.

State gauges (`JOBS_BY_STATUS`, `QUEUE_DEPTH`, `LIVE_WORKERS`) are set from Postgres/Redis by the
/metrics handler right before `render_latest()`; set every status, including zeros, since a
gauge keeps its last value. In multiprocess mode the most recent value wins.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from shared.observability.job_stats import JobStatsCollector

__all__ = [
    "HTTP_LATENCY",
    "HTTP_REQUESTS",
    "JOBS_BY_STATUS",
    "JOB_ATTEMPTS_RETRIED",
    "JOB_DEFERRALS",
    "JOB_STATS",
    "LIVE_WORKERS",
    "MODEL_CALL_DURATION",
    "MODEL_CIRCUIT",
    "MODEL_KEYS",
    "QUEUE_DEPTH",
    "RATE_LIMIT_FAIL_OPEN",
    "REGISTRY",
    "render_latest",
]

REGISTRY = CollectorRegistry()

# `route` is the matched route template (`/api/v1/jobs/{job_id}`, Litestar's
# scope["path_template"]) or "unmatched", never the raw path: labels must stay bounded, and so
# must `method` (clients choose it).
HTTP_REQUESTS = Counter(
    "ghostpen_http_requests_total",
    "HTTP requests by method, route template and status code.",
    ("method", "route", "status"),
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "ghostpen_http_request_duration_seconds",
    "HTTP request duration, until the response is fully sent.",
    ("method", "route"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)

RATE_LIMIT_FAIL_OPEN = Counter(
    "ghostpen_rate_limit_fail_open_total",
    "Requests served without a rate-limit check because Redis was unreachable.",
    registry=REGISTRY,
)

JOB_DEFERRALS = Counter(
    "ghostpen_job_deferrals_total",
    "Jobs put back in the queue without using an attempt (circuit open, every key cooling).",
    ("reason",),
    registry=REGISTRY,
)
JOB_ATTEMPTS_RETRIED = Counter(
    "ghostpen_job_attempts_retried_total",
    "Job attempts that failed transiently and were retried, by error code.",
    ("code",),
    registry=REGISTRY,
)

MODEL_CALL_DURATION = Histogram(
    "ghostpen_model_call_duration_seconds",
    "Duration of one model API call.",
    ("model", "outcome"),
    buckets=(0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0),
    registry=REGISTRY,
)

# Jobs finished, job duration, model tokens and cost: counted cluster-wide in Redis by the
# workers (see job_stats) and exposed here by every gateway.
JOB_STATS = JobStatsCollector()
REGISTRY.register(JOB_STATS)

JOBS_BY_STATUS = Gauge(
    "ghostpen_jobs",
    "Jobs in the database by status, read at scrape time.",
    ("status",),
    multiprocess_mode="mostrecent",
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    "ghostpen_queue_depth",
    "Jobs waiting in the Redis queue, read at scrape time.",
    multiprocess_mode="mostrecent",
    registry=REGISTRY,
)
LIVE_WORKERS = Gauge(
    "ghostpen_live_workers",
    "Workers with a fresh heartbeat, read at scrape time.",
    multiprocess_mode="mostrecent",
    registry=REGISTRY,
)


# Set by each worker's key pool and circuit breaker when they change (and every few seconds);
# per process, so without a shared multiprocess directory each worker reports its own.
MODEL_KEYS = Gauge(
    "ghostpen_model_keys",
    "Model API keys in this worker's pool by state: healthy, cooling, quarantined.",
    ("state",),
    multiprocess_mode="mostrecent",
    registry=REGISTRY,
)
MODEL_CIRCUIT = Gauge(
    "ghostpen_model_circuit",
    "1 for the model circuit breaker's current state (closed, open, half_open), 0 otherwise.",
    ("state",),
    multiprocess_mode="mostrecent",
    registry=REGISTRY,
)


def render_latest() -> tuple[bytes, str]:
    """The /metrics response body and content type; host-wide sums in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped upstream
        registry.register(JOB_STATS)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
