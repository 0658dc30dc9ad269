"""UTC-aware time in one place, so nothing inside the platform handles naive datetimes."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
