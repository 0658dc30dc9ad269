"""Trace context: traceparent round trip from gateway to worker, and env-driven setup."""

import contextvars
import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shared.observability import (
    configure_tracing,
    context_from_traceparent,
    current_traceparent,
    get_tracer,
)

_EXPORTER = InMemorySpanExporter()
configure_tracing("ghostpen-test").add_span_processor(SimpleSpanProcessor(_EXPORTER))


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


def run_job(traceparent: str | None) -> None:
    with get_tracer("workers").start_as_current_span(
        "generation.run", context=context_from_traceparent(traceparent), kind=SpanKind.CONSUMER
    ):
        pass


def test_worker_span_continues_the_gateway_trace(exporter: InMemorySpanExporter) -> None:
    with get_tracer("gateway").start_as_current_span("POST /api/v1/jobs"):
        traceparent = current_traceparent()

    # A fresh contextvars context stands in for the worker process: nothing is inherited.
    contextvars.Context().run(run_job, traceparent)

    gateway, worker = exporter.get_finished_spans()
    assert traceparent is not None
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}", traceparent)
    assert gateway.context is not None
    assert worker.context is not None
    assert worker.parent is not None
    assert worker.context.trace_id == gateway.context.trace_id
    assert worker.parent.span_id == gateway.context.span_id
    assert worker.kind is SpanKind.CONSUMER


def test_no_traceparent_outside_a_span() -> None:
    assert current_traceparent() is None


@pytest.mark.parametrize("traceparent", [None, "", "00-not-a-valid-header-01"])
def test_job_without_usable_traceparent_starts_a_new_trace(
    exporter: InMemorySpanExporter, traceparent: str | None
) -> None:
    with get_tracer("test").start_as_current_span("unrelated.current"):
        run_job(traceparent)

    worker = next(s for s in exporter.get_finished_spans() if s.name == "generation.run")
    assert worker.parent is None


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    # The global TracerProvider can be set once per process, so env-driven setup runs apart.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    return subprocess.run(
        [sys.executable, "-c", code],
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_console_exporter_and_service_name_come_from_env() -> None:
    result = run_python(
        "from shared.observability import configure_tracing, get_tracer\n"
        "configure_tracing('from-argument')\n"
        "with get_tracer('t').start_as_current_span('job.sweep'):\n"
        "    pass\n",
        OTEL_TRACES_EXPORTER="console",
        OTEL_SERVICE_NAME="from-env",
    )

    assert result.returncode == 0, result.stderr
    assert '"name": "job.sweep"' in result.stdout
    assert '"service.name": "from-env"' in result.stdout


def test_unknown_exporter_fails_at_start_up() -> None:
    result = run_python(
        "from shared.observability import configure_tracing\nconfigure_tracing('gateway')\n",
        OTEL_TRACES_EXPORTER="jaeger",
    )

    assert result.returncode != 0
    assert "OTEL_TRACES_EXPORTER='jaeger'" in result.stderr
