"""Usage report and budget API shapes (the caller's and the admin's)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

GroupBy = Literal["day", "model", "platform"]
AdminGroupBy = Literal["user", "day", "model", "platform"]


class UsageTotalsOut(msgspec.Struct, kw_only=True):
    jobs: int
    prompt_tokens: int
    completion_tokens: int
    cached_prompt_tokens: int
    total_tokens: int
    cost_usd: str


class UsageRowOut(UsageTotalsOut, kw_only=True, omit_defaults=True):
    """One group; only the key of the report's ``group_by`` is present (user: id and email)."""

    day: str | None = None
    model: str | None = None
    platform: str | None = None
    user_id: str | None = None
    email: str | None = None


class BudgetOut(msgspec.Struct, kw_only=True):
    """This calendar month (UTC): ledger spending, open reservations and what is left."""

    monthly_budget_usd: str
    spent_usd: str
    reserved_usd: str
    remaining_usd: str
    period_start: datetime


class UsageReportOut(msgspec.Struct, kw_only=True):
    from_: datetime = msgspec.field(name="from")
    to: datetime
    group_by: GroupBy
    data: list[UsageRowOut]
    total: UsageTotalsOut
    budget: BudgetOut | None


class AdminUsageReportOut(msgspec.Struct, kw_only=True):
    from_: datetime = msgspec.field(name="from")
    to: datetime
    group_by: AdminGroupBy
    data: list[UsageRowOut]
    total: UsageTotalsOut
