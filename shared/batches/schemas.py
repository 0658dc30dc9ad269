"""Batch API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec

from shared.jobs.schemas import (
    JobError,
    JobOptions,
    JobResult,
    JobStatus,
    Metadata,
    Topic,
    WebhookUrl,
)
from shared.style import Platform

if TYPE_CHECKING:
    from shared.batches.models import Batch

BatchStatus = Literal["in_progress", "completed", "canceled"]
MAX_ITEMS = 1_000


class BatchItem(msgspec.Struct, forbid_unknown_fields=True):
    custom_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    profile_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    platform: Platform
    topic: Topic
    options: JobOptions | None = None


class BatchCreate(msgspec.Struct, forbid_unknown_fields=True):
    items: Annotated[list[BatchItem], msgspec.Meta(min_length=1, max_length=MAX_ITEMS)]
    webhook_url: WebhookUrl | None = None
    metadata: Metadata | None = None


class BatchCounts(msgspec.Struct):
    total: int
    queued: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    canceled: int = 0


class BatchOut(msgspec.Struct):
    id: str
    status: BatchStatus
    counts: BatchCounts
    metadata: dict[str, Any]
    created_at: datetime
    webhook_url: str | None = None
    finished_at: datetime | None = None


class BatchResultLine(msgspec.Struct, omit_defaults=True):
    """One line of ``GET /batches/{id}/results`` (JSON Lines)."""

    custom_id: str | None
    job_id: str
    status: JobStatus
    result: JobResult | None = None
    error: JobError | None = None


def to_out(batch: Batch, per_status: dict[str, int]) -> BatchOut:
    """``per_status`` counts the batch's jobs by status (missing statuses are 0)."""
    return BatchOut(
        id=batch.id,
        status=batch.status,  # type: ignore[arg-type]
        counts=BatchCounts(total=batch.total, **per_status),
        metadata=batch.meta,
        created_at=batch.created_at,
        webhook_url=batch.webhook_url,
        finished_at=batch.finished_at,
    )
