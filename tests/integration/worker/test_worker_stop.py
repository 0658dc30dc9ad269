"""A worker stops when ARQ cancels it, even when the cancel comes out of a Redis call as a timeout.

Found by the chaos suite: workers under load now and then ignored SIGTERM and had to be
SIGKILLed, because the poll loop took such a timeout for a Redis outage and polled on.
"""

from __future__ import annotations

import asyncio
from typing import Any

from arq.connections import ArqRedis

from workers.main import ResilientWorker


async def _noop(ctx: dict[str, Any]) -> None:
    del ctx


class CancelBecomesTimeout(ResilientWorker):
    async def heart_beat(self) -> None:
        """A Redis call that turns a cancel landing in it into a timeout, as timeout contexts
        around socket reads can; TimeoutError is an OSError, like a refused connection."""
        try:
            await asyncio.sleep(1)
        except asyncio.CancelledError:
            raise TimeoutError from None


async def test_a_cancel_turned_into_a_timeout_still_stops_the_poll_loop(redis: ArqRedis) -> None:
    worker = CancelBecomesTimeout(
        functions=[_noop], redis_pool=redis, handle_signals=False, poll_delay=0.001
    )
    main = asyncio.create_task(worker.main())
    try:
        await asyncio.sleep(0.3)  # polling, and almost surely inside heart_beat
        main.cancel()  # what ARQ does after its drain on SIGTERM

        done, _ = await asyncio.wait({main}, timeout=10)

        assert main in done, "the worker kept polling after it was cancelled"
        assert main.cancelled()
    finally:
        while not main.done():  # a failed run: cancel until one lands outside heart_beat
            main.cancel()
            await asyncio.sleep(0.01)
