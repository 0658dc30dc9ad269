"""A per-process circuit breaker for the model API, so an outage does not burn job attempts.

Use, at the very start of `generation.run`, before the attempt is claimed::

    defer = deps.provider.defer_seconds()
    if defer is not None:
        logger.info("job.deferred", reason="model_circuit_open", defer=defer)
        raise Retry(defer=defer)

The provider (`workers.providers.GuardedProvider`) records the outcome of every model call, so
generation needs nothing else.

States: *closed* until `threshold` consecutive outage failures (5xx, timeouts, connection
errors; a 429 is the key pool's business); then *open* for a cool-off, during which every job
is deferred until it ends; then *half-open*: the first job to ask is let through as the probe
and the others wait a little. The probe's success closes the breaker; its failure reopens it
with twice the cool-off, up to `max_cooloff`. A probe that never reports (its job was canceled
before the call, or the worker timed it out) gives up its turn after `probe_timeout`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from loguru import logger

from shared.admin.schemas import CircuitState
from shared.observability.metrics import MODEL_CIRCUIT

# How long a job waits while another job probes a half-open breaker: short, because the
# probe usually answers within one model call.
PROBE_WAIT = 2.0


class CircuitBreaker:
    """Counts consecutive outage failures of the model API and says when to hold jobs back."""

    def __init__(
        self,
        *,
        threshold: int = 5,
        cooloff: float = 15.0,
        max_cooloff: float = 300.0,
        probe_timeout: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.base_cooloff = cooloff
        self.max_cooloff = max(max_cooloff, cooloff)
        self.probe_timeout = probe_timeout
        self.on_change: Callable[[], None] | None = None
        self._clock = clock
        self._failures = 0
        self._cooloff = cooloff
        self._open_until: float | None = None
        self._probe_until: float | None = None
        self._reported: CircuitState | None = None
        self.observe()

    @property
    def state(self) -> CircuitState:
        if self._open_until is None:
            return "closed"
        return "open" if self._clock() < self._open_until else "half_open"

    def defer_seconds(self) -> float | None:
        """Seconds a job should wait before calling the model, or None to go ahead now."""
        now = self._clock()
        if self._open_until is None:
            return None
        if now < self._open_until:
            return self._open_until - now
        if self._probe_until is not None and now < self._probe_until:
            return min(PROBE_WAIT, self._probe_until - now)
        self._probe_until = now + self.probe_timeout
        logger.info("model_circuit.probing")
        self.observe()
        return None

    def record_success(self) -> None:
        """The model API answered (even if it refused the request): it is up."""
        self._failures = 0
        if self._open_until is not None:
            self._open_until = self._probe_until = None
            self._cooloff = self.base_cooloff
            logger.info("model_circuit.closed")
            self.observe()

    def record_failure(self) -> None:
        """An outage failure: count it, open at the threshold, reopen on a failed probe."""
        now = self._clock()
        if self._open_until is None:
            self._failures += 1
            if self._failures >= self.threshold:
                self._open(now)
        elif now >= self._open_until:
            self._cooloff = min(self._cooloff * 2, self.max_cooloff)
            self._open(now)
        # While open: a call that started before the breaker opened; nothing new is learned.

    def record_neutral(self) -> None:
        """A call that says nothing about the API's health ends a probe without a verdict."""
        self._probe_until = None

    def observe(self) -> None:
        """Refresh the gauge and tell the listener when the state changed (also by time)."""
        state = self.state
        if state == self._reported:
            return
        self._reported = state
        for name in ("closed", "open", "half_open"):
            MODEL_CIRCUIT.labels(name).set(1 if name == state else 0)
        if self.on_change is not None:
            self.on_change()

    def _open(self, now: float) -> None:
        self._open_until = now + self._cooloff
        self._probe_until = None
        logger.warning("model_circuit.opened", failures=self._failures, cooloff=self._cooloff)
        self.observe()
