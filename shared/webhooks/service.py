"""Webhooks: record events and their deliveries (PLACEHOLDER, being written)."""

from __future__ import annotations

from collections.abc import Sequence

from shared.db.uow import UnitOfWork
from shared.webhooks.schemas import NewEvent


async def emit(uow: UnitOfWork, new_events: Sequence[NewEvent]) -> None:
    """Record each event once and a delivery per recipient; deliveries are sent on commit."""
    del uow, new_events
