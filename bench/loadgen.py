"""Load generators: wrk (closed loop, max throughput) and a Python open-loop fixed-rate client.

The open-loop client schedules request ``i`` at ``t0 + i / rate`` whatever happened to the
previous ones and measures each latency from that intended start, so a stalled server shows
up in the percentiles instead of silently slowing the client (no coordinated omission).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import resource
import shutil
import subprocess
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

LUA_SCRIPT = Path(__file__).with_name("post.lua")
CONNECT_TIMEOUT = 5.0
REQUEST_TIMEOUT = 10.0
# uvicorn closes keep-alive connections idle for 5 s; never reuse one idle for longer.
MAX_IDLE = 4.0


@dataclass
class LoadResult:
    """One load run: what was sent, what came back, and latency percentiles in ms."""

    tool: str
    mode: str  # "closed" (N connections, as fast as possible) or "open" (fixed rate)
    seconds: float
    requests: int
    ok: int  # responses with the expected status
    statuses: dict[str, int]
    errors: int  # connect/read/write/timeout failures (no status at all)
    throughput: float  # ok responses per second
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    connections: int | None = None
    target_rate: float | None = None
    lag_p99_ms: float | None = None  # open loop: how late the client itself sent (p99)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of ``values`` (q in 0..100); NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def build_request(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """A complete keep-alive HTTP/1.1 POST, built once and sent as is."""
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Connection:
    """One keep-alive HTTP/1.1 connection; responses must carry a Content-Length."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.last_used = time.perf_counter()

    @classmethod
    async def open(cls, host: str, port: int) -> _Connection:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def exchange(self, request: bytes) -> tuple[int, bool]:
        """Send ``request``; return the status and whether the connection can be reused."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lowered = head.lower()
        start = lowered.find(b"\r\ncontent-length:")
        if start < 0:
            raise ValueError("response without Content-Length")
        end = lowered.find(b"\r\n", start + 2)
        length = int(lowered[start + 17 : end])
        if length:
            await self.reader.readexactly(length)
        self.last_used = time.perf_counter()
        return status, b"\r\nconnection: close" not in lowered

    def close(self) -> None:
        self.writer.close()


async def open_loop(
    host: str,
    port: int,
    request: bytes,
    *,
    rate: float,
    seconds: float,
    warmup: float,
    expect: int,
    max_connections: int = 512,
) -> LoadResult:
    """Send at a constant ``rate`` for ``warmup + seconds``; report only the last ``seconds``."""
    idle: list[_Connection] = [await _Connection.open(host, port) for _ in range(16)]
    opened = len(idle)
    slots = asyncio.Semaphore(max_connections)
    latencies: list[float] = []
    lags: list[float] = []
    statuses: Counter[str] = Counter()
    errors = 0
    interval = 1.0 / rate
    t0 = time.perf_counter() + 0.05
    measured_from = t0 + warmup
    total = int(rate * (warmup + seconds))

    async def one(intended: float) -> None:
        nonlocal errors, opened
        started = time.perf_counter()
        recorded = intended >= measured_from
        async with slots:
            connection = idle.pop() if idle else None
            if connection is not None and time.perf_counter() - connection.last_used > MAX_IDLE:
                connection.close()
                connection = None
            try:
                if connection is None:
                    connection = await _Connection.open(host, port)
                    opened += 1
                async with asyncio.timeout(REQUEST_TIMEOUT):
                    status, reusable = await connection.exchange(request)
            except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError):
                if connection is not None:
                    connection.close()
                if recorded:
                    errors += 1
                return
            finished = time.perf_counter()
            if reusable:
                idle.append(connection)
            else:
                connection.close()
        if recorded:
            latencies.append(finished - intended)
            lags.append(started - intended)
            statuses[str(status)] += 1

    tasks: set[asyncio.Task[None]] = set()
    issued = 0
    while issued < total:
        now = time.perf_counter()
        while issued < total and t0 + issued * interval <= now:
            task = asyncio.create_task(one(t0 + issued * interval))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            issued += 1
        if issued < total:
            await asyncio.sleep(max(0.0, t0 + issued * interval - time.perf_counter()))
    if tasks:
        await asyncio.gather(*tasks)
    for connection in idle:
        connection.close()
    # Responses still arriving after the schedule ended stretch the window (overload).
    elapsed = max(seconds, time.perf_counter() - measured_from)
    return _result(
        "python-open-loop",
        "open",
        elapsed,
        latencies,
        statuses,
        errors,
        expect,
        target_rate=rate,
        lag_p99_ms=percentile(lags, 99) * 1000,
        extra={"connections_opened": opened},
    )


async def closed_loop(
    host: str,
    port: int,
    request: bytes,
    *,
    connections: int,
    seconds: float,
    warmup: float,
    expect: int,
) -> LoadResult:
    """``connections`` clients each sending back to back; the fallback when wrk is missing."""
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    errors = 0
    start = time.perf_counter()
    measured_from = start + warmup
    deadline = measured_from + seconds

    async def client() -> None:
        nonlocal errors
        connection: _Connection | None = None
        while (sent := time.perf_counter()) < deadline:
            try:
                if connection is None:
                    connection = await _Connection.open(host, port)
                async with asyncio.timeout(REQUEST_TIMEOUT):
                    status, reusable = await connection.exchange(request)
            except (OSError, TimeoutError, ValueError, asyncio.IncompleteReadError):
                if connection is not None:
                    connection.close()
                connection = None
                errors += sent >= measured_from
                continue
            finished = time.perf_counter()
            if not reusable:
                connection.close()
                connection = None
            if sent >= measured_from and finished <= deadline:
                latencies.append(finished - sent)
                statuses[str(status)] += 1
        if connection is not None:
            connection.close()

    await asyncio.gather(*(client() for _ in range(connections)))
    return _result(
        "python-closed-loop",
        "closed",
        seconds,
        latencies,
        statuses,
        errors,
        expect,
        connections=connections,
    )


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(
    url: str, body: bytes, auth: str | None, *, connections: int, seconds: float, expect: int
) -> LoadResult:
    """One ``wrk`` run (one thread: the machine has few cores) with ``post.lua``."""
    env = {**os.environ, "BENCH_BODY": body.decode(), "BENCH_AUTH": auth or ""}
    argv = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        f"{int(REQUEST_TIMEOUT)}s",
        "-s",
        str(LUA_SCRIPT),
        url,
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(
        argv, env=env, capture_output=True, text=True, check=False, timeout=seconds + 60
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    line = next(
        (row for row in completed.stdout.splitlines() if row.startswith("BENCH_JSON ")), None
    )
    if completed.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    statuses = {str(key): int(value) for key, value in data["statuses"].items()}
    elapsed = data["duration_us"] / 1e6
    ok = statuses.get(str(expect), 0)
    return LoadResult(
        tool="wrk",
        mode="closed",
        seconds=elapsed,
        requests=int(data["requests"]),
        ok=ok,
        statuses=statuses,
        errors=sum(int(value) for value in data["errors"].values()),
        throughput=ok / elapsed,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        connections=connections,
        extra={"cpu_seconds": round(wrk_cpu, 2)},
    )


def _result(
    tool: str,
    mode: str,
    seconds: float,
    latencies: list[float],
    statuses: Counter[str],
    errors: int,
    expect: int,
    **kwargs: Any,
) -> LoadResult:
    ok = statuses.get(str(expect), 0)
    return LoadResult(
        tool=tool,
        mode=mode,
        seconds=seconds,
        requests=sum(statuses.values()) + errors,
        ok=ok,
        statuses=dict(statuses),
        errors=errors,
        throughput=ok / seconds,
        p50_ms=percentile(latencies, 50) * 1000,
        p90_ms=percentile(latencies, 90) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
        max_ms=max(latencies, default=math.nan) * 1000,
        **kwargs,
    )
