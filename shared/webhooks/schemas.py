"""Webhook API shapes and the internal description of an event to emit."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from shared.jobs.schemas import WebhookUrl

EventType = Literal[
    "job.succeeded", "job.failed", "job.canceled", "batch.completed", "batch.canceled"
]
DeliveryStatus = Literal["pending", "succeeded", "failed"]
EventTypes = Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=20)]
Description = Annotated[str, msgspec.Meta(max_length=200)]


class NewEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event to record: sent to the owner's subscribed endpoints and to ``webhook_url``."""

    user_id: str
    type: str
    subject_id: str
    data: dict[str, Any]
    webhook_url: str | None = None


class EventBody(msgspec.Struct, frozen=True):
    """The JSON every recipient of an event gets, byte for byte on every attempt."""

    id: str
    type: str
    created_at: datetime
    data: dict[str, Any]


class EndpointCreate(msgspec.Struct, forbid_unknown_fields=True):
    url: WebhookUrl
    events: EventTypes
    description: Description | None = None


class EndpointUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """Only the fields given change; ``description: ""`` clears it, ``enabled: true`` re-enables."""

    url: WebhookUrl | None = None
    events: EventTypes | None = None
    description: Description | None = None
    enabled: bool | None = None


class EndpointOut(msgspec.Struct, kw_only=True):
    id: str
    url: str
    events: list[str]
    enabled: bool
    created_at: datetime
    updated_at: datetime
    description: str | None = None
    disabled_at: datetime | None = None
    disabled_reason: str | None = None


class EndpointCreatedOut(EndpointOut, kw_only=True):
    """The new endpoint with its signing ``secret``, shown only here and on rotation."""

    secret: str


class SecretOut(msgspec.Struct, kw_only=True):
    """A signing secret; ``previous_secret_expires_at`` is set while a rotated-out one signs."""

    secret: str
    created_at: datetime
    previous_secret_expires_at: datetime | None = None


class AttemptOut(msgspec.Struct, kw_only=True):
    number: int
    url: str
    latency_ms: int
    created_at: datetime
    status_code: int | None = None
    error: str | None = None
    response_snippet: str | None = None


class DeliveryOut(msgspec.Struct, kw_only=True):
    """One event on its way to one URL; ``event_id`` is the ``webhook-id`` header."""

    id: str
    event_id: str
    event_type: str
    subject_id: str
    url: str
    status: DeliveryStatus
    attempt_count: int
    round: int
    created_at: datetime
    updated_at: datetime
    attempts: list[AttemptOut]
    endpoint_id: str | None = None
    next_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None


class DeliveryFilter(msgspec.Struct, frozen=True, kw_only=True):
    endpoint_id: str | None = None
    event_type: str | None = None
    status: str | None = None
    subject_id: str | None = None
