"""``audit.prune``: audit events older than AUDIT_RETENTION go, in bounded batches; the rest
stay."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select

from shared.audit.models import AuditEvent
from shared.clock import utcnow
from shared.config import Settings
from shared.db.engine import Database
from shared.ids import new_id
from shared.queue.tasks import AUDIT_PRUNE
from workers.main import create_worker
from workers.maintenance import audit_prune


async def test_prune_removes_events_past_retention_batch_by_batch(
    worker_ctx: dict[str, Any], settings: Settings, db: Database
) -> None:
    now = utcnow()
    cutoff = now - timedelta(seconds=settings.audit_retention)
    ages = {
        "expired": [cutoff - timedelta(days=days) for days in range(1, 7)],
        "just_expired": [cutoff - timedelta(minutes=1)],
        "kept": [cutoff + timedelta(hours=1), now],
    }
    rows = [
        {
            "id": new_id("aud"),
            "created_at": created_at,
            "action": "auth.logout",
            "details": {"case": case},
        }
        for case, moments in ages.items()
        for created_at in moments
    ]
    async with db.sessions() as session:
        await session.execute(insert(AuditEvent), rows)
        await session.commit()

    # 7 expired rows, 3 per DELETE: the loop goes on past full batches and stops at a short one.
    assert await audit_prune(worker_ctx, batch=3) == 7

    async with db.sessions() as session:
        left = (await session.scalars(select(AuditEvent.details))).all()
    assert sorted(details["case"] for details in left) == ["kept", "kept"]
    assert await audit_prune(worker_ctx, batch=3) == 0


async def test_the_workers_run_the_prune(settings: Settings) -> None:
    arq_worker = create_worker(settings, handle_signals=False)
    try:
        assert AUDIT_PRUNE in {job.name for job in arq_worker.cron_jobs}
    finally:
        await arq_worker.pool.aclose()
