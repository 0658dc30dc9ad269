"""Outbox relay: send committed messages to ARQ, then forget them.

The message row is written in the transaction that causes it, so nothing committed is ever
lost; the relay sends right after the commit and the sweeper re-sends whatever the relay
could not (Redis down, process killed between commit and send). A double send is harmless:
ARQ drops a second job with the same ``_job_id`` while the first is queued, and tasks are
idempotent after that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import msgspec
from arq.connections import ArqRedis
from loguru import logger
from redis.exceptions import RedisError
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.clock import utcnow
from shared.queue.models import OutboxMessage

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(dict[str, object])


@dataclass(slots=True)
class Message:
    """A queue message on its way through the outbox (``id`` is set once it is written)."""

    task: str
    queue_job_id: str
    payload: bytes
    id: int = 0


def message(task: str, queue_job_id: str, payload: msgspec.Struct) -> Message:
    return Message(task=task, queue_job_id=queue_job_id, payload=_encoder.encode(payload))


async def write(session: AsyncSession, messages: Sequence[Message]) -> None:
    """Insert ``messages`` in the caller's transaction (one statement) and record their ids."""
    ids = await session.scalars(
        insert(OutboxMessage).returning(OutboxMessage.id, sort_by_parameter_order=True),
        [{"task": m.task, "queue_job_id": m.queue_job_id, "payload": m.payload} for m in messages],
    )
    for item, new_id in zip(messages, ids, strict=True):
        item.id = new_id


async def deliver(queue: ArqRedis, messages: Sequence[Message]) -> list[int]:
    """Enqueue ``messages`` in order; return the ids sent before any Redis failure."""
    sent: list[int] = []
    try:
        for item in messages:
            await queue.enqueue_job(
                item.task, _decoder.decode(item.payload), _job_id=item.queue_job_id
            )
            sent.append(item.id)
    except (RedisError, OSError) as exc:
        logger.warning("outbox.send_deferred", error=type(exc).__name__, pending=len(messages))
    return sent


async def sweep(
    session: AsyncSession, queue: ArqRedis, *, older_than: timedelta, limit: int = 500
) -> int:
    """Re-send messages the relay left behind; ``SKIP LOCKED`` keeps sweepers apart."""
    rows = (
        await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.created_at < utcnow() - older_than)
            .order_by(OutboxMessage.created_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    pending = [Message(r.task, r.queue_job_id, r.payload, r.id) for r in rows]
    sent = await deliver(queue, pending) if pending else []
    if sent:
        await session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(sent)))
        logger.info("outbox.swept", sent=len(sent))
    await session.commit()
    return len(sent)
