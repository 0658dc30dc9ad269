"""Admin API shapes."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, Meta, UnsetType

from shared.auth.schemas import Role
from shared.errors import FieldError, ValidationFailed

CircuitState = Literal["closed", "open", "half_open"]

# Each worker publishes its `KeyPoolOut` under this prefix + its worker id, with a short TTL.
KEY_POOL_PREFIX = "ghostpen:keypool:"

# Numeric(14, 6): at most 8 whole digits and 6 decimal places.
_BUDGET = re.compile(r"\d{1,8}(\.\d{1,6})?")


class AdminUserOut(msgspec.Struct, kw_only=True):
    id: str
    email: str
    display_name: str | None
    role: Role
    disabled: bool
    monthly_budget_usd: str | None
    created_at: datetime


class AdminUserUpdate(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Absent fields stay as they are; ``monthly_budget_usd: null`` removes the budget."""

    role: Role | UnsetType = UNSET
    disabled: bool | UnsetType = UNSET
    monthly_budget_usd: Annotated[str, Meta(max_length=32)] | UnsetType | None = UNSET

    def __post_init__(self) -> None:
        if isinstance(self.monthly_budget_usd, str) and not _BUDGET.fullmatch(
            self.monthly_budget_usd
        ):
            raise ValidationFailed(
                errors=[
                    FieldError(
                        "monthly_budget_usd",
                        'must be a decimal string >= 0 with at most 6 decimal places, e.g. "25.00"',
                    )
                ]
            )


class KeyPoolOut(msgspec.Struct, kw_only=True):
    """One worker's model API keys by state (never the keys) and its circuit breaker."""

    worker_id: str
    healthy: int
    cooling: int
    quarantined: int
    circuit: CircuitState
    updated_at: datetime


class QueueOut(msgspec.Struct, kw_only=True):
    """Redis queue depth (deferred retries included), unfinished jobs, live workers and the
    model key pool of each worker that reported one recently."""

    queue_depth: int
    queued_jobs: int
    running_jobs: int
    live_workers: list[str]
    oldest_queued_seconds: float | None
    key_pool: list[KeyPoolOut]
