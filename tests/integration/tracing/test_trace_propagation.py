"""One trace spans the request that creates a job and the worker that runs it."""

from __future__ import annotations

from typing import Any

import httpx
from arq.worker import Worker
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.factories import run_job


async def test_gateway_and_worker_share_one_trace(
    api: httpx.AsyncClient,
    make_user: Any,
    worker: Worker,
    span_exporter: InMemorySpanExporter,
) -> None:
    user = await make_user()
    job = await run_job(api, user.headers)

    spans = span_exporter.get_finished_spans()
    runs = [
        s
        for s in spans
        if s.name == "generation.run"
        and s.attributes
        and s.attributes.get("ghostpen.job_id") == job["id"]
    ]
    assert len(runs) == 1
    run = runs[0]
    trace_id = run.context.trace_id
    server = [s for s in spans if s.name == "POST /api/v1/jobs" and s.context.trace_id == trace_id]
    assert len(server) == 1, [s.name for s in spans if s.context.trace_id == trace_id]
    assert run.parent is not None
    assert run.parent.trace_id == trace_id

    children = {s.name: s for s in spans if s.parent and s.parent.span_id == run.context.span_id}
    assert {"db.job.start", "prompt.build", "model.call", "db.job.finish"} <= set(children)
    model_call = children["model.call"].attributes or {}
    assert model_call["gen_ai.usage.input_tokens"] > 0
    assert model_call["gen_ai.usage.output_tokens"] > 0
    assert model_call["gen_ai.request.model"] == "gpt-4o-mini"
