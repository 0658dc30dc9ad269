"""Turn token usage into dollars with the per-model price table from config."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from shared.config import ModelPrice

MICRO_DOLLAR = Decimal("0.000001")
PER_MILLION = Decimal(1_000_000)


def cost_usd(
    price: ModelPrice | None,
    *,
    prompt_tokens: int,
    completion_tokens: int,
    cached_prompt_tokens: int = 0,
) -> Decimal:
    """Cached prompt tokens are part of ``prompt_tokens`` and billed at their own rate."""
    if price is None:
        return Decimal("0.000000")
    cached = min(cached_prompt_tokens, prompt_tokens)
    total = (
        (prompt_tokens - cached) * price.prompt
        + cached * price.cached_prompt
        + completion_tokens * price.completion
    ) / PER_MILLION
    return total.quantize(MICRO_DOLLAR, rounding=ROUND_HALF_UP)


def format_usd(amount: Decimal) -> str:
    return str(amount.quantize(MICRO_DOLLAR, rounding=ROUND_HALF_UP))
