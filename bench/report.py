"""Presenting a run: the console table, the JSON file and ``docs/benchmarks.md``."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import redis

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"

# The targets, checked on every run.
TARGET_SUBMIT_RATE = 500.0  # accepted POST /api/v1/jobs per second
TARGET_SUBMIT_P99_MS = 100.0  # p99 at half the measured max rate
TARGET_OVERHEAD_P50_MS = 50.0  # submit→succeeded, sequential, zero model latency


def machine(redis_url: str, postgres: dict[str, str]) -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "unknown"
    memory_gib = math.nan
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = int(line.split()[1]) / 1024 / 1024
                break
    except OSError:
        pass
    with redis.Redis.from_url(redis_url) as client:
        info = client.info("server")
        persistence = client.info("persistence")
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": cpu,
        "memory_gib": round(memory_gib, 1),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "postgres": postgres,
        "redis": {
            "version": str(info.get("redis_version", "?")),
            "aof_enabled": bool(persistence.get("aof_enabled")),
        },
    }


def commit() -> str:
    """``git describe --always --dirty`` of the checkout, or "unknown"."""
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty"],  # noqa: S607
            cwd=DOCS.parent.parent,
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except OSError:
        return "unknown"
    return described.stdout.strip() or "unknown"


def targets(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each target, per gateway worker count, with the measured value and whether it is met."""
    checks = []
    for run in runs:
        w = run["workers"]
        rate = run["jobs_max"]["throughput"]
        p99 = run["jobs_fixed"]["p99_ms"]
        overhead = run["e2e_sequential"]["overhead_p50_ms"]
        checks += [
            _check(w, f"POST /jobs ≥ {TARGET_SUBMIT_RATE:.0f} accepted/s", rate, "/s", rate >= 500),
            _check(
                w,
                f"POST /jobs p99 < {TARGET_SUBMIT_P99_MS:.0f} ms at "
                f"{run['jobs_fixed']['target_rate']:.0f}/s",
                p99,
                " ms",
                p99 < TARGET_SUBMIT_P99_MS and run["jobs_fixed"]["ok"] > 0,
            ),
            _check(
                w,
                f"submit→succeeded p50 ≤ {TARGET_OVERHEAD_P50_MS:.0f} ms",
                overhead,
                " ms",
                overhead <= TARGET_OVERHEAD_P50_MS,
            ),
        ]
    return checks


def _check(workers: int, name: str, value: float, unit: str, met: bool) -> dict[str, Any]:
    return {"workers": workers, "target": name, "value": value, "unit": unit, "met": met}


def _yes(met: bool) -> str:
    return "yes" if met else "NO"


def _f(value: float, digits: int = 1) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def rows(runs: list[dict[str, Any]]) -> list[list[str]]:
    """One row per measurement: what, W, rate, p50/p90/p99/max (ms), notes."""
    table = []
    for run in runs:
        w = str(run["workers"])
        for key, label in (
            ("jobs_max", "POST /api/v1/jobs, max"),
            ("jobs_half", "POST /api/v1/jobs, ½ max"),
            ("jobs_fixed", "POST /api/v1/jobs, fixed rate"),
            ("echo_max", "baseline POST /echo, max"),
            ("echo_fixed", "baseline POST /echo, fixed rate"),
        ):
            if key not in run:
                continue
            load = run[key]
            if load["mode"] == "closed":
                rate = f"{load['throughput']:.0f} ok/s (c={load['connections']})"
            else:
                rate = f"{load['target_rate']:.0f}/s offered, {load['throughput']:.0f} ok/s"
            bad = load["requests"] - load["ok"]
            notes = f"{bad} not-{'202' if 'jobs' in key else '200'}" if bad else ""
            if load.get("lag_p99_ms") is not None and load["lag_p99_ms"] > 5:
                notes = f"{notes} client lag p99 {load['lag_p99_ms']:.0f} ms".strip()
            table.append(
                [
                    label,
                    w,
                    rate,
                    _f(load["p50_ms"]),
                    _f(load["p90_ms"]),
                    _f(load["p99_ms"]),
                    _f(load["max_ms"]),
                    notes,
                ]
            )
        for key, label in (
            ("e2e_sequential", "submit→succeeded, 1 in flight"),
            ("e2e_concurrent", f"submit→succeeded, {run['e2e_concurrent']['in_flight']} in flight"),
        ):
            e2e = run[key]
            jobs_per_s = e2e["jobs"] / e2e["seconds"]
            others = {k: v for k, v in e2e["statuses"].items() if k != "succeeded"}
            notes = (
                f"submit p50 {e2e['submit_p50_ms']:.1f} ms; server {e2e['server_p50_ms']:.1f} ms"
            )
            if others:
                notes += f"; NOT succeeded: {others}"
            table.append(
                [
                    label,
                    w,
                    f"{jobs_per_s:.0f} jobs/s ({e2e['jobs']} jobs)",
                    _f(e2e["overhead_p50_ms"]),
                    _f(e2e["overhead_p90_ms"]),
                    _f(e2e["overhead_p99_ms"]),
                    _f(e2e["overhead_max_ms"]),
                    notes,
                ]
            )
    return table


HEADER = ["measurement", "W", "rate", "p50 ms", "p90 ms", "p99 ms", "max ms", "notes"]
CPU_ROLES = ("gateway", "worker", "postgres", "redis", "fake model", "wrk", "bench (this process)")


def cpu_rows(runs: list[dict[str, Any]]) -> list[list[str]]:
    """Cores used per role during the max-throughput runs (``/proc`` accounting)."""
    table = []
    for run in runs:
        for key in ("jobs_max", "echo_max"):
            cores = run[key].get("cpu_cores", {})
            role = "baseline" if key == "echo_max" else "gateway"
            used = [cores.get(r if r != "gateway" else role, 0.0) for r in CPU_ROLES]
            machine = cores.get("machine (all)", 0.0)
            table.append(
                [
                    key.replace("_", " "),
                    str(run["workers"]),
                    *(f"{value:.2f}" for value in used),
                    f"{max(0.0, machine - sum(used)):.2f}",
                    f"{machine:.2f}",
                ]
            )
    return table


CPU_HEADER = ["run", "W", "gateway/baseline", *CPU_ROLES[1:], "other", "machine"]


def text_table(header: list[str], body: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(header)).rstrip()]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip() for row in body]
    return "\n".join(lines)


def markdown_table(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell or " " for cell in row) + " |" for row in body]
    return "\n".join(lines)


def _profile_section(runs: list[dict[str, Any]]) -> str:
    """With ``--profile``: py-spy self time per package, gateway (max run) and worker (drain)."""
    body = []
    for run in runs:
        for what, key in (("gateway, max run", "jobs_max"), ("worker, drain", "drain_after_max")):
            found = run.get(key, {}).get("profile")
            if found:
                top = ", ".join(f"{name} {share:.0%}" for name, share in found["packages"][:8])
                body.append([str(run["workers"]), what, top])
    if not body:
        return ""
    table = markdown_table(["W", "process", "py-spy self time by package"], body)
    return (
        "## Profile (`--profile`)\n\nWhere the sampled CPU went (py-spy, 250 Hz, non-blocking; "
        f"the profiler slows the target a little):\n\n{table}\n\n"
    )


def write_json(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")


def write_docs(report: dict[str, Any], json_name: str) -> None:
    """Rewrite ``docs/benchmarks.md`` around this run's figures."""
    m, cfg, pg = report["machine"], report["config"], report["machine"]["postgres"]
    when = report["started_at"][:16].replace("T", " ")
    workers = ", ".join(str(w) for w in cfg["gateway_workers"])
    tool = "`wrk` (one thread, closed loop)" if cfg["max_tool"] == "wrk" else "a Python closed loop"
    worker_note = (
        "\nThe worker keeps draining while the gateway is under load (`--worker-during-load`).\n"
        if cfg.get("worker_during_load")
        else "\nThe worker is stopped while the gateway is under load, so the POST /jobs\n"
        "figures are the gateway's and not the draining worker's (on 2 cores it would take most\n"
        "of a core); a fresh worker is started for the drains, which measure its own rate with\n"
        "the gateway idle. `--worker-during-load` measures both together.\n"
    )
    aof = "on" if m["redis"]["aof_enabled"] else "off"
    minutes = report["duration_s"] / 60
    target_rows = [
        [
            str(c["workers"]),
            c["target"],
            f"{c['value']:.1f}{c['unit']}",
            "yes" if c["met"] else "NO",
        ]
        for c in report["targets"]
    ]
    drain_rows = []
    for run in report["runs"]:
        for key in ("drain_after_max", "drain_after_half", "drain_after_fixed"):
            drain = run.get(key)
            if drain and drain["backlog"]:
                drain_rows.append(
                    [
                        str(run["workers"]),
                        key.removeprefix("drain_after_"),
                        str(drain["backlog"]),
                        str(drain.get("finished", drain["backlog"])),
                        f"{drain['seconds']:.1f}",
                        f"{drain['rate']:.0f}",
                        _f(drain.get("worker_cpu_ms_per_job", math.nan)),
                        str(drain.get("canceled", 0)),
                    ]
                )
    drain_header = [
        "W",
        "after",
        "queued",
        "finished",
        "seconds",
        "jobs/s",
        "worker CPU ms/job",
        "canceled",
    ]
    sections = [
        f"""# Benchmarks

Generated by `make bench` (`python -m bench.run`). The figures are from the run of
**{when} UTC** on commit `{report.get("commit", "unknown")}` (`bench/results/{json_name}`,
not committed), which took {report["duration_s"]:.0f} s. Run it again to refresh this page;
before/after figures of hot-path changes are kept in
[benchmark-history.md](benchmark-history.md).

## What is measured

Real processes, as in production: `ghostpen gateway --workers W` (uvicorn; W = {workers}),
one `ghostpen worker --concurrency {cfg["worker_concurrency"]}`, a fresh migrated Postgres
database, a claimed Redis logical database and the fake OpenAI server
(`tests/fakes/openai_server.py`) answering with zero latency. The environment is the test
suite's `base_env` with `LOG_LEVEL=warning`, `LOG_FORMAT=json` and trace export off. Jobs
are submitted by one registered user (access JWT) against one profile created up front.
{worker_note}

- **POST /api/v1/jobs, max**: {tool}, {cfg["connections"]} keep-alive connections,
  {cfg["warmup_s"]:.0f} s warm-up, then {cfg["seconds"]:.0f} s measured. Rate = 202 responses
  per second. Closed-loop latency is mostly queueing (about connections / rate).
- **POST /api/v1/jobs, ½ max and fixed rate**: the open-loop client in `bench/loadgen.py`
  sends at a constant rate whatever the server does, {cfg["warmup_s"]:.0f} s warm-up, then
  {cfg["fixed_seconds"]:.0f} s measured. Latency runs from each request's scheduled send
  time, so stalls are not hidden (no coordinated omission). "fixed rate" is
  max({cfg["fixed_fraction"]} × max, {cfg["min_rate"]:.0f}/s), the rate the target is checked
  at; "½ max" is added when half the max is below that. If the offered rate is above what
  the server sustains, requests pile up for the whole run and the latency shows how far
  behind it fell, not its service time. Each run starts on an empty queue (see below).
- **baseline POST /echo**: `bench/baseline_app.py`, a bare Litestar app that decodes the
  same body into a msgspec Struct and returns one, served the same way (uvicorn, same W,
  same logging): max, then the same fixed rate. The gap is what GhostPen adds per request:
  the auth lookup, the profile check, the job and outbox inserts and commit, the ARQ
  enqueue and the outbox delete.
- **submit→succeeded**: submit a job, then long-poll `GET /api/v1/jobs/{{id}}?wait=30` until
  it is terminal. Overhead = submit answered → terminal status received. The model answers
  at once, so this is worker pick-up (ARQ polls every `WORKER_POLL_DELAY` =
  {cfg.get("worker_poll_delay", "?")} s, from the tests' `base_env`), the
  generation task's own work and the completion event. {cfg["e2e_jobs"]} jobs one at a time,
  then {cfg["e2e_jobs"]} with {cfg["in_flight"]} in flight, after a few warm-up jobs, on an
  empty queue. "server" is the job row's `finished_at - created_at`.

## How to run

```sh
make bench                               # W=1 and W=2, about {minutes:.0f} minutes
.venv/bin/python -m bench.run --help     # durations, connections, worker counts, --no-docs
.venv/bin/python -m bench.run --profile  # also py-spy gateway and worker (pip install py-spy)
```

It needs the local Postgres and Redis the tests use (or their embedded fallbacks), and `wrk`
for the max runs (`apt-get install wrk`); without wrk a Python closed-loop client is used,
which takes a core itself. Results go to `bench/results/<timestamp>.json`, the child
processes' logs next to it. Ctrl-C stops the children, drops the database and releases the
Redis db.

## Machine

- {m["nproc"]} CPUs (`nproc`), {m["cpu_model"]}, {m["memory_gib"]} GiB RAM, Linux {m["kernel"]}
- Python {m["python"]}; cores already busy before the run started:
  {report.get("background_cores", math.nan):.2f}
- PostgreSQL {pg["server_version"]}: fsync={pg["fsync"]},
  synchronous_commit={pg["synchronous_commit"]}, full_page_writes={pg["full_page_writes"]}
- Redis {m["redis"]["version"]}: AOF {aof}

## Results ({report["started_at"][:10]})

W = gateway worker processes; latencies in ms.

{markdown_table(HEADER, rows(report["runs"]))}

Cores used per process during the max runs (CPU seconds / wall seconds, from `/proc`; the
harness itself idles while wrk runs; "other" is the rest of the machine: the kernel, short-lived
processes and whatever else was running on it):

{markdown_table(CPU_HEADER, cpu_rows(report["runs"]))}

The worker's drain of the jobs each load run left queued: it gets
{cfg.get("drain_window_s", 10):.0f} s (its rate is measured there), then whatever is still
queued is canceled in the database, as the cancel endpoint does, and the worker skips it:

{markdown_table(drain_header, drain_rows) if drain_rows else "(no backlog)"}

## Targets

{markdown_table(["W", "target", "measured", "met"], target_rows)}
""",
        _profile_section(report["runs"]),
        f"""## Caveats

- One {m["nproc"]}-core machine runs everything: the load generator, the gateway, the ARQ
  worker, the fake model, Postgres and Redis share the same cores. When the machine is
  saturated (see "machine" above) the gateway gets what the
  rest leaves, W=2 cannot get two whole cores, and the max rate varies a lot from run to run
  (±20 % seen). The figures are a floor for the gateway on its own hardware.
- Postgres and Redis are local (loopback, no network latency). Postgres runs with
  fsync={pg["fsync"]} and synchronous_commit={pg["synchronous_commit"]}: every commit waits
  for a WAL flush to this machine's disk. Redis AOF is {aof}.
- The open-loop client runs in Python on the same cores; its own lateness (client lag) is
  recorded and flagged in the notes when its p99 is above 5 ms.
- One user and one profile: no contention between users, and the hot rows stay cached.
""",
    ]
    DOCS.write_text("\n".join(part for part in sections if part), encoding="utf-8")
