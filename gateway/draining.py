"""Graceful stop of a gateway process: pending long polls answer at once, and the exit is clean.

uvicorn finishes in-flight requests on SIGTERM/SIGINT for up to ``timeout_graceful_shutdown``
(25 s), but a long poll may hold for 60 s and would be cut. uvicorn installs its own handlers
(``Server.capture_signals``, with ``signal.signal``) before it runs the lifespan, so the
lifespan chains onto them: drain the job-event hub, then let uvicorn begin its shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

from loguru import logger

from shared.jobs.events import JobEventHub

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

_Handler = Callable[[int, FrameType | None], object] | int | signal.Handlers | None


@contextlib.contextmanager
def drain_on_stop_signals(hub: JobEventHub) -> Iterator[None]:
    """While open, SIGTERM or SIGINT drains ``hub`` and then reaches the previous handler.

    Does nothing outside the main thread, where ``signal.signal`` raises (an app served in a
    test's thread, or driven without a server). Restores the previous handlers on exit.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous: dict[signal.Signals, _Handler] = {}

    def handle(sig: int, frame: FrameType | None) -> None:
        # A signal handler runs between two bytecodes of the loop's thread: schedule the
        # drain rather than touch the hub's events from here.
        with contextlib.suppress(RuntimeError):  # the loop has closed: nothing left to drain
            loop.call_soon_threadsafe(_drain, hub, sig)
        chained = previous.get(signal.Signals(sig))
        if callable(chained):
            chained(sig, frame)
        elif chained == signal.SIG_DFL:  # no server handler: keep the default (terminate)
            signal.signal(sig, signal.SIG_DFL)
            signal.raise_signal(sig)

    for sig in STOP_SIGNALS:
        previous[sig] = signal.getsignal(sig)
        signal.signal(sig, handle)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            # Leave a handler installed after ours in place (it restores its own).
            if signal.getsignal(sig) is handle:
                signal.signal(sig, handler)


def _drain(hub: JobEventHub, sig: int) -> None:
    if hub.draining:  # a second signal: already draining
        return
    logger.info("gateway.draining", signal=signal.Signals(sig).name)
    hub.drain()


def exit_zero_on_sigterm() -> None:
    """Make SIGTERM stop ``uvicorn.run`` as Ctrl-C does, so a drained gateway exits 0.

    After its graceful shutdown uvicorn raises the signal that stopped it again, under the
    handler that was in place before it started. For SIGTERM that is the default action, and
    the process would die by the signal (exit status 143) although it stopped cleanly;
    ``uvicorn.run`` absorbs KeyboardInterrupt and returns.
    """
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(sig: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt
