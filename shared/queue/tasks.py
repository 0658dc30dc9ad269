"""Task names and payloads: the contract between whoever enqueues and the workers.

Payloads carry ids and trace context only; tasks re-read Postgres, so a payload can never
be stale and a task is safe to run twice.
"""

from __future__ import annotations

import msgspec

GENERATION_RUN = "generation.run"
OUTBOX_SWEEP = "outbox.sweep"


class GenerationPayload(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    job_id: str
    request_id: str | None = None
    traceparent: str | None = None
