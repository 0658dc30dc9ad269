"""The job-event hub's drain, used when a gateway stops: long polls answer with what they read."""

from __future__ import annotations

import asyncio

from arq.connections import ArqRedis

from shared.jobs.events import JobEventHub


async def test_drain_wakes_a_waiting_long_poll_and_later_ones_do_not_wait(
    redis: ArqRedis,
) -> None:
    # Not started: its subscription wakes every waiter each time it (re)subscribes, which
    # would race the wake this test is about; drain needs no subscription.
    hub = JobEventHub(redis)
    reads: list[str] = []
    first_read = asyncio.Event()

    async def read(subject_id: str) -> int:
        reads.append(subject_id)
        first_read.set()
        return len(reads)

    def never_finished(_: int) -> bool:
        return False

    waiting = asyncio.create_task(hub.wait_for("job_a", lambda: read("job_a"), never_finished, 60))
    await asyncio.wait_for(first_read.wait(), 5)  # registered, read once, now waiting
    await asyncio.sleep(0.05)
    assert not waiting.done()

    hub.drain()
    assert hub.draining
    # Woken at once; it reads again, so it answers with the state at the drain.
    assert await asyncio.wait_for(waiting, 5) == 2

    # A long poll that starts during the drain reads once and does not wait.
    later = hub.wait_for("job_b", lambda: read("job_b"), never_finished, 60)
    assert await asyncio.wait_for(later, 5) == 3
    assert reads == ["job_a", "job_a", "job_b"]
