"""Sending webhooks: one attempt per task run, retried on the configured schedule.

Safe to run twice (ARQ delivers at least once): a delivery that is no longer pending, or a
message from an older round (a manual retry started a new one), returns at once. Every
attempt is committed on its own with what it got, so the delivery log shows it even if the
worker dies right after.

Retry policy: after a failed attempt ``n`` of the first round, attempt ``n + 1`` follows
``WEBHOOK_RETRY_SCHEDULE[n]`` seconds later (±10 % jitter, so a receiver that was down is not
hit by every retry at once) until the schedule is used up. A refused destination and
``410 Gone`` are permanent; 410 also disables the endpoint. A manual retry is one attempt.
"""

from __future__ import annotations

import random
import time
from datetime import timedelta

from arq import Retry
from loguru import logger
from opentelemetry.trace import SpanKind, Status, StatusCode

from shared.clock import utcnow
from shared.db.uow import UnitOfWork
from shared.ids import new_id
from shared.observability.tracing import context_from_traceparent, get_tracer
from shared.queue.messages import message_states, release
from shared.queue.tasks import WebhookDeliverPayload
from shared.webhooks import delivery as http
from shared.webhooks import repository, service, signing
from workers.context import WorkerDeps

GONE = 410
GONE_REASON = "410 Gone from endpoint"
# A pending delivery this far past its due time has lost its queue message.
OVERDUE = timedelta(seconds=60)
SWEEP_LIMIT = 500
tracer = get_tracer("ghostpen.workers.webhooks")


async def deliver(deps: WorkerDeps, payload: WebhookDeliverPayload) -> str:
    """Make one attempt of a delivery; return its resulting status ("skipped" if void).

    Raises ARQ ``Retry`` when the attempt failed and the schedule allows another.
    """
    async with UnitOfWork(deps.db.sessions, deps.relay) as uow:
        sending = await repository.for_sending(uow.session, payload.delivery_id)
        if sending is None or not _is_current(sending, payload):
            logger.info("webhook.skipped", reason="not pending in this round")
            return "skipped"
        delivery, event, endpoint = sending.delivery, sending.event, sending.endpoint
        if endpoint is not None and endpoint.disabled_at is not None:
            await repository.finish_unsent(
                uow.session, delivery.id, payload.round, error="endpoint disabled", now=utcnow()
            )
            await uow.commit()
            logger.info("webhook.skipped", reason="endpoint disabled")
            return "failed"
        secrets = await service.signing_secrets(uow, delivery.user_id, delivery.endpoint_id)
        # Commit now: a secret made on first use must exist before anything is signed with it,
        # and no connection is held while the receiver answers.
        await uow.commit()
    url = endpoint.url if endpoint is not None else delivery.url
    attempt = delivery.attempt_count + 1
    with tracer.start_as_current_span(
        "webhook.deliver",
        context=context_from_traceparent(payload.traceparent),
        kind=SpanKind.CLIENT,
        attributes={
            "ghostpen.delivery_id": delivery.id,
            "ghostpen.event_type": event.type,
            "ghostpen.subject_id": event.subject_id,
            "webhook.attempt": attempt,
        },
    ) as span:
        headers = signing.headers(secrets, event.id, int(time.time()), event.body)
        outcome = await http.send(deps.settings, url, headers, event.body)
        if outcome.status_code is not None:
            span.set_attribute("http.response.status_code", outcome.status_code)
        if not outcome.succeeded:
            span.set_status(Status(StatusCode.ERROR, outcome.error))
    delay = _retry_delay(deps, payload, outcome, attempt)
    status = "succeeded" if outcome.succeeded else "pending" if delay is not None else "failed"
    now = utcnow()
    async with UnitOfWork(deps.db.sessions, deps.relay) as uow:
        current = await repository.record_attempt(
            uow.session,
            delivery.id,
            payload.round,
            {
                "id": new_id("watt"),
                "url": url,
                "status_code": outcome.status_code,
                "latency_ms": outcome.latency_ms,
                "error": outcome.error,
                "response_snippet": outcome.response_snippet,
                "created_at": now,
            },
            status=status,
            next_attempt_at=now + timedelta(seconds=delay) if delay is not None else None,
        )
        if current and outcome.status_code == GONE and endpoint is not None:
            await repository.disable_endpoint(uow.session, endpoint.id, reason=GONE_REASON, now=now)
        await uow.commit()
    fields = {
        "delivery_id": delivery.id,
        "event_type": event.type,
        "attempt": attempt,
        "status": outcome.status_code,
        "latency_ms": outcome.latency_ms,
    }
    if outcome.succeeded:
        logger.info("webhook.delivered", **fields)
    else:
        logger.warning("webhook.attempt_failed", error=outcome.error, retry_in=delay, **fields)
    if current and delay is not None:
        raise Retry(defer=delay)
    return status if current else "skipped"


def _is_current(sending: repository.Sending, payload: WebhookDeliverPayload) -> bool:
    return sending.delivery.status == "pending" and sending.delivery.round == payload.round


def _retry_delay(
    deps: WorkerDeps, payload: WebhookDeliverPayload, outcome: http.Outcome, attempt: int
) -> float | None:
    """Seconds until the next attempt (jittered), or None when this failure is final.

    The jitter is applied here, not when sending, so ``next_attempt_at`` records the real
    time and the sweeper does not mistake a late-jittered retry for a lost one.
    """
    if outcome.succeeded or outcome.refused or outcome.status_code == GONE or payload.round > 0:
        return None
    schedule = deps.settings.webhook_retry_schedule
    if attempt >= len(schedule):
        return None
    return schedule[attempt] * random.uniform(0.9, 1.1)  # noqa: S311 - jitter, not security


async def sweep(deps: WorkerDeps) -> int:
    """Re-send overdue deliveries whose queue message was lost, release those a dead worker
    holds (see shared/queue/messages.py); return how many were overdue."""
    now = utcnow()
    async with UnitOfWork(deps.db.sessions, deps.relay) as uow:
        overdue = await repository.claim_overdue(
            uow.session, due_before=now - OVERDUE, now=now, limit=SWEEP_LIMIT
        )
        queue_ids = [service.delivery_queue_id(*row) for row in overdue]
        states = await message_states(deps.redis, queue_ids)
        for (delivery_id, round_), state in zip(overdue, states, strict=True):
            if state == "lost":
                service.enqueue_delivery(uow, delivery_id, round_)
        await uow.commit()
    held = [queue_id for queue_id, state in zip(queue_ids, states, strict=True) if state == "held"]
    await release(deps.redis, held)
    if overdue:
        logger.warning(
            "webhook.requeued", count=len(overdue), lost=states.count("lost"), released=len(held)
        )
    return len(overdue)
