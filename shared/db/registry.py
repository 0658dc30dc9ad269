"""Imports every model module so the one MetaData knows every table (Alembic, tests)."""

from shared.audit import models as audit_models
from shared.auth import models as auth_models
from shared.batches import models as batch_models
from shared.billing import models as billing_models
from shared.db.base import Base
from shared.idempotency import models as idempotency_models
from shared.jobs import models as job_models
from shared.profiles import models as profile_models
from shared.queue import models as queue_models
from shared.schedules import models as schedule_models
from shared.webhooks import models as webhook_models

metadata = Base.metadata

__all__ = [
    "audit_models",
    "auth_models",
    "batch_models",
    "billing_models",
    "idempotency_models",
    "job_models",
    "metadata",
    "profile_models",
    "queue_models",
    "schedule_models",
    "webhook_models",
]
