"""All SQL for webhooks: endpoints, signing secrets, events, deliveries and attempts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from shared.errors import NotFound
from shared.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    WebhookSecret,
)
from shared.webhooks.schemas import DeliveryFilter


@dataclass(frozen=True, slots=True)
class Sending:
    """What an attempt needs: the delivery, its event and, unless per-request, its endpoint."""

    delivery: WebhookDelivery
    event: WebhookEvent
    endpoint: WebhookEndpoint | None


# Endpoints


async def add_endpoint(session: AsyncSession, endpoint: WebhookEndpoint) -> None:
    session.add(endpoint)
    await session.flush()


async def get_endpoint(session: AsyncSession, user_id: str, endpoint_id: str) -> WebhookEndpoint:
    """Raises NotFound for unknown ids and for other users' endpoints alike."""
    endpoint = await session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id, WebhookEndpoint.user_id == user_id
        )
    )
    if endpoint is None:
        raise NotFound("webhook endpoint not found")
    return endpoint


async def list_endpoints(
    session: AsyncSession, user_id: str, *, after_id: str | None, limit: int
) -> Sequence[WebhookEndpoint]:
    query = select(WebhookEndpoint).where(WebhookEndpoint.user_id == user_id)
    if after_id:
        query = query.where(WebhookEndpoint.id < after_id)
    return (await session.scalars(query.order_by(WebhookEndpoint.id.desc()).limit(limit))).all()


async def delete_endpoint(session: AsyncSession, endpoint_id: str) -> None:
    await session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id))


async def subscribed_endpoints(
    session: AsyncSession, user_ids: Iterable[str]
) -> Sequence[Row[str, str, list[str], str]]:
    """(id, user_id, events, url) of the enabled endpoints of ``user_ids``, in one query."""
    rows = await session.execute(
        select(
            WebhookEndpoint.id, WebhookEndpoint.user_id, WebhookEndpoint.events, WebhookEndpoint.url
        ).where(WebhookEndpoint.user_id.in_(list(user_ids)), WebhookEndpoint.disabled_at.is_(None))
    )
    return rows.all()


async def disable_endpoint(
    session: AsyncSession, endpoint_id: str, *, reason: str, now: datetime
) -> None:
    await session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.disabled_at.is_(None))
        .values(disabled_at=now, disabled_reason=reason, updated_at=now)
    )


# Signing secrets


async def lock_secrets(session: AsyncSession, user_id: str, endpoint_id: str | None) -> None:
    """Serialise creating and rotating one owner's secrets until the transaction ends.

    Without it two concurrent first uses (or rotations) could each add a current secret.
    """
    key = f"webhook-secrets:{user_id}:{endpoint_id or ''}"
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))


async def valid_secrets(
    session: AsyncSession, user_id: str, endpoint_id: str | None, now: datetime
) -> Sequence[WebhookSecret]:
    """The current secret (no ``expires_at``) first, then rotated-out ones still in grace."""
    query = select(WebhookSecret).where(
        WebhookSecret.user_id == user_id,
        _owner(endpoint_id),
        WebhookSecret.expires_at.is_(None) | (WebhookSecret.expires_at > now),
    )
    return (
        await session.scalars(
            query.order_by(WebhookSecret.expires_at.desc().nulls_first(), WebhookSecret.id.desc())
        )
    ).all()


async def add_secret(session: AsyncSession, secret: WebhookSecret) -> None:
    session.add(secret)
    await session.flush()


async def retire_secrets(
    session: AsyncSession, user_id: str, endpoint_id: str | None, *, expires_at: datetime
) -> None:
    """Give the current secret an expiry and drop secrets that have expired already."""
    owned = (WebhookSecret.user_id == user_id, _owner(endpoint_id))
    await session.execute(
        delete(WebhookSecret).where(*owned, WebhookSecret.expires_at <= func.now())
    )
    await session.execute(
        update(WebhookSecret)
        .where(*owned, WebhookSecret.expires_at.is_(None))
        .values(expires_at=expires_at)
    )


def _owner(endpoint_id: str | None) -> Any:
    if endpoint_id is None:
        return WebhookSecret.endpoint_id.is_(None)
    return WebhookSecret.endpoint_id == endpoint_id


# Events and deliveries


async def insert_events(
    session: AsyncSession, rows: Sequence[dict[str, Any]]
) -> Sequence[Row[str, str, str]]:
    """Insert events not recorded before; (id, subject_id, type) of those inserted.

    An event exists once per subject and type, so a state change reported twice (a retried
    transaction, a duplicate task) leaves the first event and its deliveries alone.
    """
    statement = (
        pg_insert(WebhookEvent)
        .on_conflict_do_nothing(index_elements=["subject_id", "type"])
        .returning(WebhookEvent.id, WebhookEvent.subject_id, WebhookEvent.type)
    )
    return (await session.execute(statement, list(rows))).all()


async def insert_deliveries(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    await session.execute(insert(WebhookDelivery), list(rows))


async def get_delivery(
    session: AsyncSession, user_id: str, delivery_id: str
) -> tuple[WebhookDelivery, WebhookEvent]:
    """Raises NotFound for unknown ids and for other users' deliveries alike."""
    row = (
        await session.execute(
            select(WebhookDelivery, WebhookEvent)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.user_id == user_id)
        )
    ).first()
    if row is None:
        raise NotFound("webhook delivery not found")
    return row[0], row[1]


async def list_deliveries(
    session: AsyncSession,
    user_id: str,
    where: DeliveryFilter,
    *,
    after_id: str | None,
    limit: int,
) -> list[tuple[WebhookDelivery, WebhookEvent]]:
    query = (
        select(WebhookDelivery, WebhookEvent)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.user_id == user_id)
    )
    if where.endpoint_id:
        query = query.where(WebhookDelivery.endpoint_id == where.endpoint_id)
    if where.status:
        query = query.where(WebhookDelivery.status == where.status)
    if where.event_type:
        query = query.where(WebhookEvent.type == where.event_type)
    if where.subject_id:
        query = query.where(WebhookEvent.subject_id == where.subject_id)
    if after_id:
        query = query.where(WebhookDelivery.id < after_id)
    rows = await session.execute(query.order_by(WebhookDelivery.id.desc()).limit(limit))
    return [(delivery, event) for delivery, event in rows]


async def attempts_of(
    session: AsyncSession, delivery_ids: Sequence[str]
) -> dict[str, list[WebhookAttempt]]:
    """Every attempt of ``delivery_ids`` in order, in one query."""
    found: dict[str, list[WebhookAttempt]] = {delivery_id: [] for delivery_id in delivery_ids}
    if delivery_ids:
        rows = await session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(list(delivery_ids)))
            .order_by(WebhookAttempt.delivery_id, WebhookAttempt.number)
        )
        for attempt in rows:
            found[attempt.delivery_id].append(attempt)
    return found


async def restart_delivery(
    session: AsyncSession, delivery_id: str, *, now: datetime
) -> WebhookDelivery | None:
    """Start a new round of a finished delivery; None if it is still pending."""
    result = await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status != "pending")
        .values(
            status="pending", round=WebhookDelivery.round + 1, next_attempt_at=now, updated_at=now
        )
        .returning(WebhookDelivery)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return result.scalar_one_or_none()


async def for_sending(session: AsyncSession, delivery_id: str) -> Sending | None:
    row = (
        await session.execute(
            select(WebhookDelivery, WebhookEvent, WebhookEndpoint)
            .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
            .outerjoin(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(WebhookDelivery.id == delivery_id)
        )
    ).first()
    return None if row is None else Sending(delivery=row[0], event=row[1], endpoint=row[2])


async def record_attempt(
    session: AsyncSession,
    delivery_id: str,
    round_: int,
    attempt: dict[str, Any],
    *,
    status: str,
    next_attempt_at: datetime | None,
) -> bool:
    """Add an attempt to a delivery; set its status only if it is still pending in ``round_``.

    False when the delivery moved on meanwhile (a duplicate task, a deleted endpoint); the
    attempt is then recorded (if the delivery still exists) but decides nothing.
    """
    delivery = await session.scalar(
        select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update()
    )
    if delivery is None:
        return False
    now = attempt["created_at"]
    delivery.attempt_count += 1
    delivery.last_attempt_at = now
    delivery.last_status_code = attempt["status_code"]
    delivery.last_error = attempt["error"]
    delivery.url = attempt["url"]
    delivery.updated_at = now
    current = delivery.status == "pending" and delivery.round == round_
    if current:
        delivery.status = status
        delivery.next_attempt_at = next_attempt_at
    session.add(WebhookAttempt(delivery_id=delivery_id, number=delivery.attempt_count, **attempt))
    await session.flush()
    return current


async def finish_unsent(
    session: AsyncSession, delivery_id: str, round_: int, *, error: str, now: datetime
) -> None:
    """Fail a pending delivery without an attempt (its endpoint was disabled meanwhile)."""
    await session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == "pending",
            WebhookDelivery.round == round_,
        )
        .values(status="failed", last_error=error, next_attempt_at=None, updated_at=now)
    )


async def claim_overdue(
    session: AsyncSession, *, due_before: datetime, now: datetime, limit: int
) -> Sequence[Row[str, int]]:
    """(id, round) of pending deliveries overdue since ``due_before``, marked as due ``now``.

    ``SKIP LOCKED`` keeps concurrent sweepers on different rows; moving ``next_attempt_at``
    keeps the next sweep from sending them again before the queue had a chance.
    """
    due = (
        select(WebhookDelivery.id)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at < due_before)
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    rows = await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(due))
        .values(next_attempt_at=now)
        .returning(WebhookDelivery.id, WebhookDelivery.round)
        .execution_options(synchronize_session=False)
    )
    return rows.all()
