"""The gateway wrapped by instrument_asgi, driven over ASGI."""

from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar, get
from litestar.params import FromPath
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shared.observability import configure_tracing, instrument_asgi

_EXPORTER = InMemorySpanExporter()
configure_tracing("ghostpen-test").add_span_processor(SimpleSpanProcessor(_EXPORTER))


@get("/api/v1/asgi-test/{job_id:str}", sync_to_thread=False)
def read_job(job_id: FromPath[str]) -> dict[str, str]:
    return {"id": job_id}


@get(["/health/live", "/metrics"], sync_to_thread=False)
def operations() -> str:
    return "ok"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = instrument_asgi(Litestar([read_job, operations]))
    # Litestar types scopes as TypedDicts, httpx as plain mappings: same protocol.
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        _EXPORTER.clear()
        yield client


def server_spans() -> list[ReadableSpan]:
    return [s for s in _EXPORTER.get_finished_spans() if s.kind is SpanKind.SERVER]


async def test_server_span_is_named_by_route_template(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/api/v1/asgi-test/job-c",
        headers={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
    )

    assert response.status_code == 200
    (span,) = server_spans()
    assert span.name == "GET /api/v1/asgi-test/{job_id}"
    assert span.attributes is not None
    assert span.attributes["http.route"] == "/api/v1/asgi-test/{job_id}"
    assert span.context is not None
    assert f"{span.context.trace_id:032x}" == "0af7651916cd43dd8448eb211c80319c"


async def test_unmatched_request_is_traced_without_the_raw_path(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/api/v1/nothing-here/job-d")).status_code == 404

    assert [span.name for span in server_spans()] == ["GET"]


async def test_health_and_metrics_are_not_traced(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health/live")).status_code == 200
    assert (await client.get("/metrics")).status_code == 200

    assert server_spans() == []
