"""Tracing: one global TracerProvider per process, W3C `traceparent` carried in job envelopes.

Configuration is OpenTelemetry's own environment:

- `OTEL_TRACES_EXPORTER`: `otlp` (OTLP/HTTP to `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or
  `OTEL_EXPORTER_OTLP_ENDPOINT`, batched), `console` (stdout, unbatched) or `none`. Unlike the
  spec's default (`otlp`), unset means `none`: a machine without a collector exports nothing, yet
  spans are still created, so trace ids reach the workers and the logs.
- `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`: read by the SDK's TracerProvider itself
  (default `parentbased_always_on`).
- `OTEL_SERVICE_NAME`: overrides the `service_name` argument. `Resource.create` alone would let
  the argument win, so the variable is read here.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, cast

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.environment_variables import OTEL_TRACES_EXPORTER
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.environment_variables import OTEL_SERVICE_NAME
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.http import sanitize_method

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "configure_tracing",
    "context_from_traceparent",
    "current_traceparent",
    "get_tracer",
    "instrument_asgi",
    "shutdown_tracing",
]

# Regexes searched in "scheme://host/path" (no query string); liveness probes and scrapes
# would otherwise be most of the traces.
_UNTRACED_URLS = r"^[a-z]+://[^/]+/health(?:/|$),^[a-z]+://[^/]+/metrics$"

# Only `traceparent` travels in job envelopes, whatever OTEL_PROPAGATORS says.
_PROPAGATOR = TraceContextTextMapPropagator()

_provider: TracerProvider | None = None


def _span_processors() -> list[SpanProcessor]:
    raw = os.environ.get(OTEL_TRACES_EXPORTER, "none")
    names = {name.strip().lower() for name in raw.split(",")} - {"", "none"}
    if unknown := names - {"otlp", "console"}:
        msg = f"{OTEL_TRACES_EXPORTER}={raw!r}: {sorted(unknown)} unsupported (otlp, console, none)"
        raise ValueError(msg)
    processors: list[SpanProcessor] = []
    if "otlp" in names:
        processors.append(BatchSpanProcessor(OTLPSpanExporter()))
    if "console" in names:
        processors.append(SimpleSpanProcessor(ConsoleSpanExporter()))
    return processors


def configure_tracing(service_name: str) -> TracerProvider:
    """Install the global TracerProvider on first call; later calls return the same provider.

    Call it in each process after it starts (uvicorn worker, ARQ worker), not before a fork.
    Tests attach their own processor (e.g. an InMemorySpanExporter) to the returned provider.
    Raises ValueError for an unsupported `OTEL_TRACES_EXPORTER`.
    """
    global _provider
    if _provider is None:
        name = os.environ.get(OTEL_SERVICE_NAME) or service_name
        provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
        for processor in _span_processors():
            provider.add_span_processor(processor)
        trace.set_tracer_provider(provider)
        _provider = provider
    return _provider


def shutdown_tracing() -> None:
    """Export buffered spans and stop exporters; call last, on process shutdown."""
    if _provider is not None:
        _provider.shutdown()


def get_tracer(name: str) -> trace.Tracer:
    """A tracer from the global provider; fine at import time, before `configure_tracing`.

    Until the provider is set it is OpenTelemetry's proxy, which delegates once it is.
    """
    return trace.get_tracer(name)


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the current span, to put in a job envelope; None outside one."""
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def context_from_traceparent(traceparent: str | None) -> Context:
    """The context to start a job's span in, as a child of the span that enqueued it.

    A missing or malformed `traceparent` gives an empty context, so the span starts a new trace
    instead of nesting under whatever happens to be current.
    """
    if not traceparent:
        return Context()
    return _PROPAGATOR.extract({"traceparent": traceparent}, context=Context())


def _span_details(scope: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    # The library names spans "GET /raw/path": one name per job id. The route template is
    # only known after routing, see `_name_span_by_route`.
    return _span_name(scope.get("method")), {}


def _span_name(method: str | None, route: str | None = None) -> str:
    name = sanitize_method(method) if method else None
    if name == "_OTHER":
        name = "HTTP"
    return " ".join(part for part in (name, route) if part) or "websocket"


def _name_span_by_route(app: ASGIApp) -> ASGIApp:
    async def named(scope: Scope, receive: Receive, send: Send) -> None:
        server_span = trace.get_current_span()

        def name_span() -> None:
            # Litestar's router writes the matched route into this same scope dict.
            route = scope.get("path_template")
            if route and server_span.is_recording():
                method = cast("dict[str, Any]", scope).get("method")
                server_span.update_name(_span_name(method, route))
                server_span.set_attribute("http.route", route)

        async def send_naming_span(message: Message) -> None:
            # The middleware ends the span with the last body chunk, before the app returns.
            if message["type"] in ("http.response.start", "websocket.accept"):
                name_span()
            await send(message)

        try:
            await app(scope, receive, send_naming_span)
        finally:
            name_span()  # an exception escaped before any response was sent

    return named


def instrument_asgi(app: ASGIApp) -> ASGIApp:
    """Wrap the ASGI app in a server span per request named `METHOD /route/{template}`.

    `/health/*` and `/metrics` are not traced. An incoming `traceparent` header is continued.
    """
    middleware = OpenTelemetryMiddleware(
        _name_span_by_route(app),
        excluded_urls=_UNTRACED_URLS,
        default_span_details=_span_details,
        # Per-message "http send"/"http receive" child spans would triple the span volume.
        exclude_spans=["receive", "send"],
    )
    # The middleware types scopes as plain mappings; it is an ASGI app all the same.
    return cast("ASGIApp", middleware)
