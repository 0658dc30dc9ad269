"""Webhooks: record events and their deliveries, manage endpoints, secrets and retries.

Events are recorded in the transaction of the state change they announce (see
:func:`emit`); the workers send them (``workers/webhooks.py``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import utcnow
from shared.config import Settings
from shared.db.uow import UnitOfWork
from shared.errors import Conflict
from shared.ids import new_id
from shared.observability.tracing import current_traceparent
from shared.pagination import Page, decode_cursor, page_of
from shared.queue.tasks import WEBHOOK_DELIVER, WebhookDeliverPayload
from shared.webhooks import repository, signing
from shared.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    WebhookSecret,
)
from shared.webhooks.schemas import (
    AttemptOut,
    DeliveryFilter,
    DeliveryOut,
    EndpointCreate,
    EndpointCreatedOut,
    EndpointOut,
    EndpointUpdate,
    EventBody,
    NewEvent,
    SecretOut,
)
from shared.webhooks.urls import check_endpoint_url

_encoder = msgspec.json.Encoder()


async def emit(uow: UnitOfWork, new_events: Sequence[NewEvent]) -> None:
    """Record each event once and a delivery per recipient; deliveries are sent on commit.

    Recipients are the owner's enabled endpoints subscribed to the type, plus the event's
    ``webhook_url``; an event nobody receives is not recorded. A few statements whatever the
    number of events (a batch cancel emits up to a thousand).
    """
    if not new_events:
        return
    endpoints = await repository.subscribed_endpoints(
        uow.session, {event.user_id for event in new_events}
    )
    by_user: dict[str, list[tuple[str, list[str], str]]] = defaultdict(list)
    for endpoint_id, user_id, types, url in endpoints:
        by_user[user_id].append((endpoint_id, types, url))
    now = utcnow()
    events: list[dict[str, Any]] = []
    recipients: dict[tuple[str, str], tuple[str, list[tuple[str | None, str]]]] = {}
    for event in new_events:
        targets: list[tuple[str | None, str]] = [
            (endpoint_id, url)
            for endpoint_id, types, url in by_user[event.user_id]
            if event.type in types
        ]
        if event.webhook_url:
            targets.append((None, event.webhook_url))
        if not targets or (event.subject_id, event.type) in recipients:
            continue
        event_id = new_id("msg")
        body = EventBody(id=event_id, type=event.type, created_at=now, data=event.data)
        events.append(
            {
                "id": event_id,
                "user_id": event.user_id,
                "type": event.type,
                "subject_id": event.subject_id,
                "body": _encoder.encode(body),
                "created_at": now,
            }
        )
        recipients[(event.subject_id, event.type)] = (event.user_id, targets)
    if not events:
        return
    deliveries: list[dict[str, Any]] = []
    for event_id, subject_id, event_type in await repository.insert_events(uow.session, events):
        user_id, targets = recipients[(subject_id, event_type)]
        deliveries.extend(
            {
                "id": new_id("dlv"),
                "event_id": event_id,
                "user_id": user_id,
                "endpoint_id": endpoint_id,
                "url": url,
                "status": "pending",
                "attempt_count": 0,
                "round": 0,
                "next_attempt_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for endpoint_id, url in targets
        )
    if not deliveries:
        return
    await repository.insert_deliveries(uow.session, deliveries)
    # Inside a worker this is the job's trace, so the delivery span joins it.
    traceparent = current_traceparent()
    for delivery in deliveries:
        enqueue_delivery(uow, delivery["id"], 0, traceparent)


def delivery_queue_id(delivery_id: str, round_: int) -> str:
    """The queue id of one round of a delivery: one message per round, whatever its retries."""
    return f"{delivery_id}:{round_}"


def enqueue_delivery(
    uow: UnitOfWork, delivery_id: str, round_: int, traceparent: str | None = None
) -> None:
    """Send one round of a delivery to the workers once ``uow`` commits."""
    uow.enqueue(
        WEBHOOK_DELIVER,
        delivery_queue_id(delivery_id, round_),
        WebhookDeliverPayload(delivery_id=delivery_id, round=round_, traceparent=traceparent),
    )


# Signing secrets


async def signing_secrets(uow: UnitOfWork, user_id: str, endpoint_id: str | None) -> list[str]:
    """The secrets a delivery is signed with, current first (the account's made on first use)."""
    return [row.secret for row in await _valid_secrets(uow, user_id, endpoint_id)]


async def account_secret(uow: UnitOfWork, user_id: str) -> SecretOut:
    """The account's default secret for per-request ``webhook_url`` deliveries (made lazily)."""
    return _secret_out(await _valid_secrets(uow, user_id, None))


async def rotate_account_secret(uow: UnitOfWork, settings: Settings, user_id: str) -> SecretOut:
    """Replace the account's secret; the old one keeps signing for the grace period."""
    return await _rotate(uow, settings, user_id, None)


async def rotate_endpoint_secret(
    uow: UnitOfWork, settings: Settings, user_id: str, endpoint_id: str
) -> SecretOut:
    """Replace an endpoint's secret (the old one signs until the grace ends). Raises NotFound."""
    endpoint = await repository.get_endpoint(uow.session, user_id, endpoint_id)
    return await _rotate(uow, settings, user_id, endpoint.id)


async def _valid_secrets(
    uow: UnitOfWork, user_id: str, endpoint_id: str | None
) -> Sequence[WebhookSecret]:
    now = utcnow()
    found = await repository.valid_secrets(uow.session, user_id, endpoint_id, now)
    if found and found[0].expires_at is None:
        return found
    await repository.lock_secrets(uow.session, user_id, endpoint_id)
    found = await repository.valid_secrets(uow.session, user_id, endpoint_id, now)
    if found and found[0].expires_at is None:
        return found  # another transaction made it while we waited for the lock
    current = await _add_secret(uow.session, user_id, endpoint_id)
    return [current, *found]


async def _rotate(
    uow: UnitOfWork, settings: Settings, user_id: str, endpoint_id: str | None
) -> SecretOut:
    await repository.lock_secrets(uow.session, user_id, endpoint_id)
    grace_ends = utcnow() + timedelta(seconds=settings.webhook_secret_grace)
    await repository.retire_secrets(uow.session, user_id, endpoint_id, expires_at=grace_ends)
    await _add_secret(uow.session, user_id, endpoint_id)
    return _secret_out(await repository.valid_secrets(uow.session, user_id, endpoint_id, utcnow()))


async def _add_secret(
    session: AsyncSession, user_id: str, endpoint_id: str | None
) -> WebhookSecret:
    secret = WebhookSecret(
        id=new_id("wsec"),
        user_id=user_id,
        endpoint_id=endpoint_id,
        secret=signing.new_secret(),
        created_at=utcnow(),
    )
    await repository.add_secret(session, secret)
    return secret


def _secret_out(valid: Sequence[WebhookSecret]) -> SecretOut:
    current, *previous = valid
    expiries = [row.expires_at for row in previous if row.expires_at is not None]
    return SecretOut(
        secret=current.secret,
        created_at=current.created_at,
        previous_secret_expires_at=max(expiries) if expiries else None,
    )


# Endpoints


def endpoint_out(endpoint: WebhookEndpoint) -> EndpointOut:
    """The API shape of an endpoint (never its secret)."""
    return EndpointOut(
        id=endpoint.id,
        url=endpoint.url,
        events=endpoint.events,
        enabled=endpoint.disabled_at is None,
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
        description=endpoint.description,
        disabled_at=endpoint.disabled_at,
        disabled_reason=endpoint.disabled_reason,
    )


async def create_endpoint(
    uow: UnitOfWork, settings: Settings, user_id: str, data: EndpointCreate
) -> EndpointCreatedOut:
    """Register an endpoint with its own secret. Raises ValidationFailed (URL refused)."""
    await check_endpoint_url(settings, data.url, "url")
    now = utcnow()
    endpoint = WebhookEndpoint(
        id=new_id("wep"),
        user_id=user_id,
        url=data.url,
        events=sorted(set(data.events)),
        description=data.description or None,
        created_at=now,
        updated_at=now,
    )
    await repository.add_endpoint(uow.session, endpoint)
    secret = await _add_secret(uow.session, user_id, endpoint.id)
    return EndpointCreatedOut(
        **msgspec.structs.asdict(endpoint_out(endpoint)), secret=secret.secret
    )


async def get_endpoint(session: AsyncSession, user_id: str, endpoint_id: str) -> EndpointOut:
    """Raises NotFound."""
    return endpoint_out(await repository.get_endpoint(session, user_id, endpoint_id))


async def list_endpoints(
    session: AsyncSession, user_id: str, *, limit: int, cursor: str | None
) -> Page[EndpointOut]:
    """The caller's endpoints, newest first. Raises ValidationFailed (bad cursor)."""
    rows = await repository.list_endpoints(
        session, user_id, after_id=decode_cursor(cursor), limit=limit + 1
    )
    return page_of([endpoint_out(row) for row in rows], limit, "id")


async def update_endpoint(
    uow: UnitOfWork, settings: Settings, user_id: str, endpoint_id: str, data: EndpointUpdate
) -> EndpointOut:
    """Change an endpoint; re-enabling clears why it was disabled.

    Raises NotFound and ValidationFailed (URL refused).
    """
    endpoint = await repository.get_endpoint(uow.session, user_id, endpoint_id)
    if data.url is not None:
        await check_endpoint_url(settings, data.url, "url")
        endpoint.url = data.url
    if data.events is not None:
        endpoint.events = sorted(set(data.events))
    if data.description is not None:
        endpoint.description = data.description or None
    if data.enabled is True:
        endpoint.disabled_at = None
        endpoint.disabled_reason = None
    elif data.enabled is False and endpoint.disabled_at is None:
        endpoint.disabled_at = utcnow()
        endpoint.disabled_reason = "disabled by the user"
    endpoint.updated_at = utcnow()
    await uow.session.flush()
    return endpoint_out(endpoint)


async def delete_endpoint(uow: UnitOfWork, user_id: str, endpoint_id: str) -> None:
    """Delete an endpoint with its secrets and deliveries. Raises NotFound."""
    endpoint = await repository.get_endpoint(uow.session, user_id, endpoint_id)
    await repository.delete_endpoint(uow.session, endpoint.id)


# Deliveries


async def list_deliveries(
    session: AsyncSession,
    user_id: str,
    where: DeliveryFilter,
    *,
    limit: int,
    cursor: str | None,
) -> Page[DeliveryOut]:
    """The caller's deliveries, newest first, each with its attempts.

    Raises NotFound (``where.endpoint_id`` not the caller's) and ValidationFailed (bad cursor).
    """
    if where.endpoint_id:
        await repository.get_endpoint(session, user_id, where.endpoint_id)
    rows = await repository.list_deliveries(
        session, user_id, where, after_id=decode_cursor(cursor), limit=limit + 1
    )
    attempts = await repository.attempts_of(session, [delivery.id for delivery, _ in rows])
    return page_of(
        [_delivery_out(delivery, event, attempts[delivery.id]) for delivery, event in rows],
        limit,
        "id",
    )


async def get_delivery(session: AsyncSession, user_id: str, delivery_id: str) -> DeliveryOut:
    """Raises NotFound."""
    delivery, event = await repository.get_delivery(session, user_id, delivery_id)
    attempts = await repository.attempts_of(session, [delivery.id])
    return _delivery_out(delivery, event, attempts[delivery.id])


async def retry_delivery(uow: UnitOfWork, user_id: str, delivery_id: str) -> DeliveryOut:
    """Send a finished delivery once more, now, with the same ``webhook-id``.

    Raises NotFound, or Conflict (still pending, or its endpoint is disabled).
    """
    delivery, event = await repository.get_delivery(uow.session, user_id, delivery_id)
    if delivery.endpoint_id is not None:
        endpoint = await repository.get_endpoint(uow.session, user_id, delivery.endpoint_id)
        if endpoint.disabled_at is not None:
            raise Conflict("the endpoint is disabled; enable it first")
    restarted = await repository.restart_delivery(uow.session, delivery.id, now=utcnow())
    if restarted is None:
        raise Conflict("the delivery is still pending; it is retried automatically")
    enqueue_delivery(uow, restarted.id, restarted.round, current_traceparent())
    attempts = await repository.attempts_of(uow.session, [restarted.id])
    return _delivery_out(restarted, event, attempts[restarted.id])


def _delivery_out(
    delivery: WebhookDelivery, event: WebhookEvent, attempts: Sequence[WebhookAttempt]
) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id,
        event_id=event.id,
        event_type=event.type,
        subject_id=event.subject_id,
        url=delivery.url,
        status=delivery.status,  # type: ignore[arg-type]
        attempt_count=delivery.attempt_count,
        round=delivery.round,
        created_at=delivery.created_at,
        updated_at=delivery.updated_at,
        attempts=[
            AttemptOut(
                number=attempt.number,
                url=attempt.url,
                latency_ms=attempt.latency_ms,
                created_at=attempt.created_at,
                status_code=attempt.status_code,
                error=attempt.error,
                response_snippet=attempt.response_snippet,
            )
            for attempt in attempts
        ],
        endpoint_id=delivery.endpoint_id,
        next_attempt_at=delivery.next_attempt_at,
        last_attempt_at=delivery.last_attempt_at,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
    )
