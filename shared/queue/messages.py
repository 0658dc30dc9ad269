"""What Redis holds for a queue message: nothing, a waiting message, or one marked in progress.

Sweepers use it to tell a message that is lost (send it again) from one a dead worker holds:
ARQ marks a message in progress when a worker takes it and, if that worker dies, leaves it alone
until its longest job timeout plus 10 s (five minutes and more). Removing the mark lets ARQ run
the message again at once; if its worker was alive after all, our own state in Postgres makes
the second run find nothing to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from arq.constants import in_progress_key_prefix, job_key_prefix
from redis.asyncio import Redis

MessageState = Literal["lost", "waiting", "held"]


async def message_states(redis: Redis, queue_ids: Sequence[str]) -> list[MessageState]:
    """The state of each message, in order, in one round trip."""
    if not queue_ids:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for queue_id in queue_ids:
            pipe.exists(job_key_prefix + queue_id)
            pipe.exists(in_progress_key_prefix + queue_id)
        answers = await pipe.execute()
    return [
        ("held" if in_progress else "waiting") if present else "lost"
        for present, in_progress in zip(answers[::2], answers[1::2], strict=True)
    ]


async def release(redis: Redis, queue_ids: Sequence[str]) -> None:
    """Remove the in-progress marks of messages whose worker is gone, so ARQ runs them again."""
    if queue_ids:
        await redis.delete(*(in_progress_key_prefix + queue_id for queue_id in queue_ids))
