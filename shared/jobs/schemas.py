"""Generation job API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec

from shared.profiles.schemas import Language
from shared.style import Platform
from shared.text import MULTILINE

if TYPE_CHECKING:
    from shared.jobs.models import Job

JobStatus = Literal["queued", "running", "succeeded", "failed", "canceled"]
Topic = Annotated[str, msgspec.Meta(min_length=1, max_length=2_000), MULTILINE]
WebhookUrl = Annotated[str, msgspec.Meta(max_length=2_048, pattern=r"^https?://[^\s]+$")]
MetadataKey = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
# Numbers within ±10^15: exact as a JSON double in any client, and no 300-digit values stored
# from `1e308` (a black-box probe's). One bound for both, so the document's `number` is true.
METADATA_NUMBER_BOUND = 10**15
MetadataValue = (
    Annotated[str, msgspec.Meta(max_length=500), MULTILINE]
    | Annotated[int, msgspec.Meta(ge=-METADATA_NUMBER_BOUND, le=METADATA_NUMBER_BOUND)]
    | Annotated[float, msgspec.Meta(ge=-METADATA_NUMBER_BOUND, le=METADATA_NUMBER_BOUND)]
    | bool
    | None
)
Metadata = Annotated[dict[MetadataKey, MetadataValue], msgspec.Meta(max_length=50)]
MAX_WAIT_SECONDS = 60


class JobOptions(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    language: Language | None = None
    target_length: Annotated[int, msgspec.Meta(ge=20, le=63_206)] | None = None
    model: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] | None = None
    variant: Annotated[int, msgspec.Meta(ge=1, le=100)] | None = None


class JobCreate(msgspec.Struct, forbid_unknown_fields=True):
    profile_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    platform: Platform
    topic: Topic
    options: JobOptions | None = None
    webhook_url: WebhookUrl | None = None
    metadata: Metadata | None = None


class UsageOut(msgspec.Struct):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cached_prompt_tokens: int = 0


class StyleScoreOut(msgspec.Struct):
    overall: float
    features: dict[str, float]


class JobResult(msgspec.Struct):
    text: str
    style_score: StyleScoreOut
    model: str
    backend: str
    usage: UsageOut
    cost_usd: str
    template_version: str


class JobError(msgspec.Struct):
    code: str
    message: str


class JobOut(msgspec.Struct):
    id: str
    status: JobStatus
    profile_id: str
    platform: str
    topic: str
    options: dict[str, Any]
    metadata: dict[str, Any]
    attempts: int
    created_at: datetime
    batch_id: str | None = None
    custom_id: str | None = None
    schedule_id: str | None = None
    webhook_url: str | None = None
    result: JobResult | None = None
    error: JobError | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


def to_out(job: Job) -> JobOut:
    return JobOut(
        id=job.id,
        status=job.status,  # type: ignore[arg-type]
        profile_id=job.profile_id,
        platform=job.platform,
        topic=job.topic,
        options=job.options,
        metadata=job.meta,
        attempts=job.attempts,
        created_at=job.created_at,
        batch_id=job.batch_id,
        custom_id=job.custom_id,
        schedule_id=job.schedule_id,
        webhook_url=job.webhook_url,
        result=msgspec.convert(job.result, JobResult) if job.result else None,
        error=JobError(code=job.error_code, message=job.error_message or "")
        if job.error_code
        else None,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )
