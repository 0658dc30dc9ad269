"""Schedule API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec

from shared.jobs.schemas import JobOptions, Metadata, Topic, WebhookUrl
from shared.style import Platform

if TYPE_CHECKING:
    from shared.schedules.models import Schedule, ScheduleFiring

MAX_TOPICS = 100
Topics = Annotated[list[Topic], msgspec.Meta(min_length=1, max_length=MAX_TOPICS)]
Cron = Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
TimeZone = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
FiringStatus = Literal["fired", "missed", "refused"]


class ScheduleCreate(msgspec.Struct, forbid_unknown_fields=True):
    """Exactly one of ``topic``/``topics`` and exactly one of ``run_at``/``cron``.

    ``run_at`` without an offset is a wall-clock time in ``timezone``.
    """

    profile_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    platform: Platform
    topics: Topics | None = None
    topic: Topic | None = None
    run_at: datetime | None = None
    cron: Cron | None = None
    timezone: TimeZone = "UTC"
    webhook_url: WebhookUrl | None = None
    enabled: bool = True
    options: JobOptions | None = None
    metadata: Metadata | None = None


class ScheduleUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Only the fields given change; ``cron`` or ``run_at`` replaces the trigger."""

    enabled: bool | msgspec.UnsetType = msgspec.UNSET
    topics: Topics | msgspec.UnsetType = msgspec.UNSET
    topic: Topic | msgspec.UnsetType = msgspec.UNSET
    run_at: datetime | msgspec.UnsetType | None = msgspec.UNSET
    cron: Cron | msgspec.UnsetType | None = msgspec.UNSET
    timezone: TimeZone | msgspec.UnsetType = msgspec.UNSET
    webhook_url: WebhookUrl | msgspec.UnsetType | None = msgspec.UNSET
    options: JobOptions | msgspec.UnsetType | None = msgspec.UNSET
    metadata: Metadata | msgspec.UnsetType | None = msgspec.UNSET


class ScheduleOut(msgspec.Struct):
    id: str
    profile_id: str
    platform: str
    topics: list[str]
    cron: str | None
    run_at: datetime | None
    timezone: str
    enabled: bool
    next_run_at: datetime | None
    last_run_at: datetime | None
    webhook_url: str | None
    options: dict[str, Any]
    metadata: dict[str, Any]
    fired_count: int
    missed_count: int
    created_at: datetime
    updated_at: datetime


class ScheduleFiringOut(msgspec.Struct):
    scheduled_for: datetime
    status: FiringStatus
    job_id: str | None
    detail: str | None
    created_at: datetime


def to_out(schedule: Schedule) -> ScheduleOut:
    return ScheduleOut(
        id=schedule.id,
        profile_id=schedule.profile_id,
        platform=schedule.platform,
        topics=schedule.topics,
        cron=schedule.cron,
        run_at=schedule.run_at,
        timezone=schedule.timezone,
        enabled=schedule.enabled,
        next_run_at=schedule.next_run_at,
        last_run_at=schedule.last_run_at,
        webhook_url=schedule.webhook_url,
        options=schedule.options,
        metadata=schedule.meta,
        fired_count=schedule.fired_count,
        missed_count=schedule.missed_count,
        created_at=schedule.created_at,
        updated_at=schedule.updated_at,
    )


def firing_out(firing: ScheduleFiring) -> ScheduleFiringOut:
    return ScheduleFiringOut(
        scheduled_for=firing.scheduled_for,
        status=firing.status,  # type: ignore[arg-type]
        job_id=firing.job_id,
        detail=firing.detail,
        created_at=firing.created_at,
    )
