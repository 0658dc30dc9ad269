"""ARQ task functions: decode the payload, set up log and trace context, call one service."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import msgspec
from arq import Retry
from arq.typing import WorkerCoroutine
from loguru import logger
from opentelemetry.trace import SpanKind

from shared.availability import is_unavailable
from shared.observability.tracing import context_from_traceparent, get_tracer
from shared.queue import outbox
from shared.queue.tasks import GenerationPayload, WebhookDeliverPayload
from workers import generation, recovery, schedules, webhooks
from workers.context import deps_of

tracer = get_tracer("ghostpen.workers")
SWEEP_AFTER = timedelta(seconds=10)
# A task that met a Postgres or Redis outage runs again this much later (ARQ Retry).
UNAVAILABLE_DEFER = 2.0


def retried_through_outages(task: Callable[..., Awaitable[str]]) -> WorkerCoroutine:
    """Run the task again later when a backing service was unreachable, instead of letting
    ARQ record a failure: the work is still owed (the task is idempotent)."""

    @functools.wraps(task)
    async def run(ctx: dict[Any, Any], *args: Any, **kwargs: Any) -> str:
        try:
            return await task(ctx, *args, **kwargs)
        except Retry:
            raise
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            logger.warning("task.dependency_unavailable", error=type(exc).__name__)
            raise Retry(defer=UNAVAILABLE_DEFER) from exc

    return run


@retried_through_outages
async def generation_run(ctx: dict[str, Any], payload: dict[str, Any]) -> str:
    """Generate the post for one job (idempotent; see workers.generation)."""
    message = msgspec.convert(payload, GenerationPayload)
    with (
        tracer.start_as_current_span(
            "generation.run",
            context=context_from_traceparent(message.traceparent),
            kind=SpanKind.CONSUMER,
            attributes={"ghostpen.job_id": message.job_id, "arq.job_try": ctx.get("job_try", 1)},
        ),
        logger.contextualize(job_id=message.job_id, request_id=message.request_id),
    ):
        return await generation.run(deps_of(ctx), message)


async def outbox_sweep(ctx: dict[str, Any]) -> int:
    """Re-send committed messages the relay could not send (e.g. Redis was down)."""
    deps = deps_of(ctx)
    async with deps.db.sessions() as session:
        return await outbox.sweep(session, deps.redis, older_than=SWEEP_AFTER)


async def jobs_recover(ctx: dict[str, Any]) -> int:
    """Requeue running jobs whose worker died and resend queued jobs whose message was lost."""
    deps = deps_of(ctx)
    return await recovery.recover(deps) + await recovery.resend_stranded(deps)


async def schedules_fire(ctx: dict[str, Any]) -> int:
    """Create the jobs of due schedules (cron every 2 s; safe in any number of workers)."""
    with tracer.start_as_current_span("schedules.fire", kind=SpanKind.INTERNAL):
        return await schedules.fire(deps_of(ctx))


@retried_through_outages
async def webhook_deliver(ctx: dict[str, Any], payload: dict[str, Any]) -> str:
    """Make one attempt of a webhook delivery (idempotent; see workers.webhooks)."""
    message = msgspec.convert(payload, WebhookDeliverPayload)
    with logger.contextualize(delivery_id=message.delivery_id):
        return await webhooks.deliver(deps_of(ctx), message)


async def webhooks_sweep(ctx: dict[str, Any]) -> int:
    """Re-send pending webhook deliveries whose queue message was lost."""
    return await webhooks.sweep(deps_of(ctx))
