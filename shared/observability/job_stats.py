"""Cluster-wide job and model usage counters, kept in Redis and served by every gateway.

Workers finish jobs in many processes on many hosts; Prometheus scrapes the gateways. Each
worker adds its outcome to one Redis hash (a few HINCRBY in one pipeline), and the /metrics
handler reads the hash and exposes it as ordinary counters and a histogram. So
``ghostpen_jobs_finished_total``, ``ghostpen_job_duration_seconds``,
``ghostpen_model_tokens_total`` and ``ghostpen_model_cost_usd_total`` are the whole cluster's,
whichever gateway is scraped, without a shared filesystem. Should Redis lose the hash, the
counters restart from zero, which Prometheus treats as an ordinary counter reset.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from decimal import Decimal

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.asyncio import Redis

STATS_KEY = "ghostpen:stats"
DURATION_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)


def _bucket(seconds: float) -> str:
    for bound in DURATION_BUCKETS:
        if seconds <= bound:
            return str(bound)
    return "+Inf"


async def record(
    redis: Redis,
    *,
    status: str,
    platform: str,
    seconds: float,
    model: str | None = None,
    tokens: Mapping[str, int] | None = None,
    cost: Decimal | None = None,
) -> None:
    """Add one terminal job (and its billed usage, if any) to the cluster counters."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.hincrby(STATS_KEY, f"jobs|{status}|{platform}", 1)
        pipe.hincrby(STATS_KEY, f"duration_bucket|{status}|{_bucket(seconds)}", 1)
        pipe.hincrbyfloat(STATS_KEY, f"duration_sum|{status}", seconds)
        if model is not None:
            for kind, count in (tokens or {}).items():
                pipe.hincrby(STATS_KEY, f"tokens|{model}|{kind}", count)
            if cost is not None:
                pipe.hincrbyfloat(STATS_KEY, f"cost|{model}", float(cost))
        await pipe.execute()


async def load(redis: Redis) -> dict[str, str]:
    raw: dict[bytes | str, bytes | str] = await redis.hgetall(STATS_KEY)  # type: ignore[misc]
    return {_text(key): _text(value) for key, value in raw.items()}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class JobStatsCollector(Collector):
    """Exposes the last snapshot read from Redis (the /metrics handler refreshes it)."""

    def __init__(self) -> None:
        self.snapshot: dict[str, str] = {}

    def collect(self) -> Iterator[Metric]:
        jobs = CounterMetricFamily(
            "ghostpen_jobs_finished",
            "Jobs that reached a terminal status (cluster-wide).",
            labels=("status", "platform"),
        )
        tokens = CounterMetricFamily(
            "ghostpen_model_tokens",
            "Model tokens billed; kind is prompt, completion or cached_prompt (cluster-wide).",
            labels=("model", "kind"),
        )
        cost = CounterMetricFamily(
            "ghostpen_model_cost_usd",
            "Model spend in US dollars (cluster-wide).",
            labels=("model",),
        )
        buckets: defaultdict[str, dict[str, int]] = defaultdict(dict)
        sums: dict[str, float] = {}
        for key, value in sorted(self.snapshot.items()):
            kind, *labels = key.split("|")
            if kind == "jobs":
                jobs.add_metric(labels, float(value))
            elif kind == "tokens":
                tokens.add_metric(labels, float(value))
            elif kind == "cost":
                cost.add_metric(labels, float(value))
            elif kind == "duration_bucket":
                buckets[labels[0]][labels[1]] = int(value)
            elif kind == "duration_sum":
                sums[labels[0]] = float(value)
        duration = HistogramMetricFamily(
            "ghostpen_job_duration_seconds",
            "Time from submission to terminal status (cluster-wide).",
            labels=("status",),
        )
        for status, counts in sorted(buckets.items()):
            running = 0
            cumulative = []
            for bound in (*(str(b) for b in DURATION_BUCKETS), "+Inf"):
                running += counts.get(bound, 0)
                cumulative.append((bound, float(running)))
            duration.add_metric([status], cumulative, sum_value=sums.get(status, 0.0))
        yield from (jobs, duration, tokens, cost)
