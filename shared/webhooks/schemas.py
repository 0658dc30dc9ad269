"""Webhook API shapes and the internal description of an event to emit."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

EventType = Literal["job.succeeded", "job.failed", "job.canceled", "batch.completed"]


class NewEvent(msgspec.Struct, frozen=True, kw_only=True):
    """An event to record: sent to the owner's subscribed endpoints and to ``webhook_url``."""

    user_id: str
    type: str
    subject_id: str
    data: dict[str, Any]
    webhook_url: str | None = None
