"""Task names and payloads: the contract between whoever enqueues and the workers.

Payloads carry ids and trace context only; tasks re-read Postgres, so a payload can never
be stale and a task is safe to run twice.
"""

from __future__ import annotations

import msgspec

GENERATION_RUN = "generation.run"
OUTBOX_SWEEP = "outbox.sweep"
WEBHOOK_DELIVER = "webhook.deliver"
WEBHOOKS_SWEEP = "webhooks.sweep"
SCHEDULES_FIRE = "schedules.fire"
IDEMPOTENCY_PURGE = "idempotency.purge"
AUDIT_PRUNE = "audit.prune"
JOBS_RECOVER = "jobs.recover"


class GenerationPayload(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    job_id: str
    request_id: str | None = None
    traceparent: str | None = None


class WebhookDeliverPayload(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One round of one delivery; a message of an older round (before a manual retry) is void."""

    delivery_id: str
    round: int
    traceparent: str | None = None
