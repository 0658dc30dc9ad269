"""Batch progress (PLACEHOLDER, being written)."""

from __future__ import annotations

from collections.abc import Mapping

from shared.db.uow import UnitOfWork


async def items_finished(uow: UnitOfWork, finished_per_batch: Mapping[str, int]) -> None:
    """Count finished items; complete (and announce) batches with none left."""
    del uow, finished_per_batch
