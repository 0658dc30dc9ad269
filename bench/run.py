"""``make bench``: throughput and latency of the real gateway, worker and baseline.

For each gateway worker count W: start ``ghostpen gateway --workers W``; measure
submit→succeeded on an empty queue (one at a time, then a few in flight); find the max
``POST /api/v1/jobs`` rate with wrk; let the worker drain the backlog; measure latency at a
fixed rate with the open-loop client; then the same for the bare baseline app. One Postgres
database, Redis db, fake model and ARQ worker serve the whole run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar
from urllib.parse import urlsplit

from bench import cpu, loadgen, profile, report, scenarios
from bench.stack import Stack, terminate

RESULTS = Path(__file__).resolve().parent / "results"
T = TypeVar("T")


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run one async phase (on uvloop when installed, as uvicorn is)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--workers", default="1,2", help="gateway worker counts, comma separated")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured seconds, max runs")
    parser.add_argument(
        "--fixed-seconds", type=float, default=10.0, help="measured seconds, fixed-rate runs"
    )
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per load")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections for max")
    parser.add_argument("--fixed-fraction", type=float, default=0.5, help="fixed rate / max")
    parser.add_argument("--min-rate", type=float, default=250.0, help="lowest fixed rate (/s)")
    parser.add_argument("--e2e-jobs", type=int, default=200, help="jobs per submit→done run")
    parser.add_argument("--in-flight", type=int, default=8, help="concurrent submit→done run")
    parser.add_argument("--worker-concurrency", type=int, default=50)
    parser.add_argument(
        "--drain-window",
        type=float,
        default=10.0,
        help="seconds the worker may drain a backlog before the rest is canceled",
    )
    parser.add_argument("--drain-timeout", type=float, default=60.0)
    parser.add_argument("--python-loadgen", action="store_true", help="do not use wrk for max")
    parser.add_argument(
        "--worker-during-load",
        action="store_true",
        help="let the worker drain while the gateway is under load (default: paused)",
    )
    parser.add_argument("--no-docs", action="store_true", help="leave docs/benchmarks.md alone")
    parser.add_argument(
        "--profile", action="store_true", help="py-spy the gateway during the max runs"
    )
    return parser.parse_args(argv)


def _max_throughput(
    url: str, body: bytes, auth: str | None, args: argparse.Namespace, seconds: float, expect: int
) -> loadgen.LoadResult:
    """Closed loop at ``--connections``: wrk when available, else the Python client."""
    if not args.python_loadgen and loadgen.wrk_available():
        return loadgen.run_wrk(
            url, body, auth, connections=args.connections, seconds=seconds, expect=expect
        )
    host, port, request = _request(url, body, auth)
    return _run(
        loadgen.closed_loop(
            host,
            port,
            request,
            connections=args.connections,
            seconds=seconds,
            warmup=0.0,
            expect=expect,
        )
    )


def _fixed_rate(
    url: str, body: bytes, auth: str | None, rate: float, args: argparse.Namespace, expect: int
) -> loadgen.LoadResult:
    """Open loop at ``rate``: ``--warmup`` seconds, then ``--fixed-seconds`` measured."""
    host, port, request = _request(url, body, auth)
    return _run(
        loadgen.open_loop(
            host,
            port,
            request,
            rate=rate,
            seconds=args.fixed_seconds,
            warmup=args.warmup,
            expect=expect,
        )
    )


def _request(url: str, body: bytes, auth: str | None) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    headers = {"Authorization": auth} if auth else {}
    return host, port, loadgen.build_request(host, port, parts.path, body, headers)


def _observed(
    stack: Stack,
    load: Callable[[], loadgen.LoadResult],
    *,
    spy: tuple[int, float, Path] | None = None,
) -> dict[str, Any]:
    """Run ``load``, adding the cores each role used and, with ``spy``, a py-spy profile."""
    before, busy, started = (
        stack.cpu(),
        cpu.total_busy(),
        time.monotonic(),
    )
    recorder = profile.record(*spy) if spy else None
    try:
        result = load().as_dict()
    finally:
        if recorder is not None:
            profile.stop(recorder)
    elapsed = time.monotonic() - started
    result["cpu_cores"] = cpu.usage(before, stack.cpu(), elapsed)
    if result["tool"] == "wrk":  # wrk has exited by now: its CPU comes from its rusage
        result["cpu_cores"]["wrk"] = round(result["extra"]["cpu_seconds"] / elapsed, 2)
    result["cpu_cores"]["machine (all)"] = round((cpu.total_busy() - busy) / elapsed, 2)
    if spy is not None and spy[2].exists():
        result["profile"] = {"raw": spy[2].name, **profile.summarize(spy[2])}
    return result


@contextlib.contextmanager
def _worker_paused(stack: Stack, args: argparse.Namespace) -> Iterator[None]:
    """Stop the worker while the gateway is under load, and start a fresh one after.

    The targets are the gateway's: on a 2-core machine a draining worker takes most of a core
    from it, which measures the machine, not the gateway. The worker's own rate is measured in
    the drains that follow, with the gateway idle. (Stopped, not frozen with SIGSTOP: a frozen
    process finds its Redis reads timed out when it resumes.)
    """
    if args.worker_during_load or stack.worker is None:
        yield
        return
    terminate(stack.worker)
    try:
        yield
    finally:
        stack.worker = stack.start_worker(args.worker_concurrency)


def _say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def _drain(stack: Stack, args: argparse.Namespace, spy: Path | None = None) -> dict[str, Any]:
    """Let the worker work off the backlog (bounded); the cores each role used meanwhile."""
    before, started = stack.cpu(), time.monotonic()
    recorder = None
    if spy is not None and stack.worker is not None:
        recorder = profile.record(stack.worker.pid, None, spy)
    try:
        drain = _run(
            scenarios.drain(
                stack.database_url,
                stack.redis_url,
                window=args.drain_window,
                limit=args.drain_timeout,
            )
        )
    finally:
        if recorder is not None:
            profile.stop(recorder)
    result = drain.as_dict()
    if spy is not None and spy.exists():
        result["profile"] = {"raw": spy.name, **profile.summarize(spy)}
    if drain.finished:
        cores = cpu.usage(before, stack.cpu(), time.monotonic() - started)
        result["cpu_cores"] = cores
        per_job = cores.get("worker", 0.0) * drain.seconds / drain.finished * 1000
        result["worker_cpu_ms_per_job"] = round(per_job, 2)
        canceled = f", {drain.canceled} still queued canceled" if drain.canceled else ""
        _say(
            f"  worker finished {drain.finished} of {drain.backlog} queued jobs in "
            f"{drain.seconds:.1f} s ({drain.rate:.0f}/s, {per_job:.1f} ms CPU per job){canceled}"
        )
    return result


def _measure(
    stack: Stack, workers: int, account: scenarios.Account | None, args: argparse.Namespace
) -> tuple[dict[str, Any], scenarios.Account]:
    """Every measurement for one gateway worker count."""
    result: dict[str, Any] = {"workers": workers}
    gateway, url = stack.start_gateway(workers)
    try:
        if account is None:
            account = _run(scenarios.create_account(url))
        body = json.dumps(account.job_body()).encode()
        auth = account.authorization
        _say(f"W={workers}: submit→succeeded, {args.e2e_jobs} jobs one at a time")
        e2e = _run(scenarios.end_to_end(url, account, jobs=args.e2e_jobs, in_flight=1))
        result["e2e_sequential"] = e2e.as_dict()
        _say(f"W={workers}: submit→succeeded, {args.e2e_jobs} jobs {args.in_flight} in flight")
        e2e = _run(scenarios.end_to_end(url, account, jobs=args.e2e_jobs, in_flight=args.in_flight))
        result["e2e_concurrent"] = e2e.as_dict()
        _drain(stack, args)

        jobs_url = f"{url}/api/v1/jobs"
        _say(f"W={workers}: POST /api/v1/jobs max, c={args.connections}")
        spy = (gateway.pid, args.seconds, stack.logs / f"py-spy-gateway-w{workers}.txt")
        with _worker_paused(stack, args):
            _max_throughput(jobs_url, body, auth, args, args.warmup, 202)
            result["jobs_max"] = _observed(
                stack,
                lambda: _max_throughput(jobs_url, body, auth, args, args.seconds, 202),
                spy=spy if args.profile else None,
            )
        max_rate = result["jobs_max"]["throughput"]
        _say(f"W={workers}: {max_rate:.0f} accepted/s")
        worker_spy = stack.logs / f"py-spy-worker-w{workers}.txt" if args.profile else None
        result["drain_after_max"] = _drain(stack, args, worker_spy)

        half = args.fixed_fraction * max_rate
        rate = max(half, args.min_rate)
        if half < rate:
            _say(f"W={workers}: POST /api/v1/jobs at a fixed {half:.0f}/s (half of max)")
            with _worker_paused(stack, args):
                result["jobs_half"] = _observed(
                    stack, lambda: _fixed_rate(jobs_url, body, auth, half, args, 202)
                )
            result["drain_after_half"] = _drain(stack, args)
        _say(f"W={workers}: POST /api/v1/jobs at a fixed {rate:.0f}/s")
        with _worker_paused(stack, args):
            result["jobs_fixed"] = _observed(
                stack, lambda: _fixed_rate(jobs_url, body, auth, rate, args, 202)
            )
        result["drain_after_fixed"] = _drain(stack, args)
    finally:
        terminate(gateway)

    baseline, url = stack.start_baseline(workers)
    try:
        echo_url = f"{url}/echo"
        _say(f"W={workers}: baseline POST /echo max, c={args.connections}")
        _max_throughput(echo_url, body, None, args, args.warmup, 200)
        result["echo_max"] = _observed(
            stack, lambda: _max_throughput(echo_url, body, None, args, args.seconds, 200)
        )
        _say(f"W={workers}: baseline POST /echo at a fixed {rate:.0f}/s")
        result["echo_fixed"] = _observed(
            stack, lambda: _fixed_rate(echo_url, body, None, rate, args, 200)
        )
    finally:
        terminate(baseline)
    return result, account


def _background_load(seconds: float = 2.0) -> float:
    """Cores busy before anything starts: other work on the machine skews every figure."""
    busy, started = cpu.total_busy(), time.monotonic()
    time.sleep(seconds)
    return round((cpu.total_busy() - busy) / (time.monotonic() - started), 2)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    worker_counts = [int(item) for item in args.workers.split(",") if item.strip()]
    started = datetime.now(UTC)
    code = report.commit()  # now: the children import the checkout as it is at start-up
    clock = time.monotonic()
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    logs = RESULTS / f"{stamp}-logs"
    signal.signal(signal.SIGTERM, _on_sigterm)
    runs: list[dict[str, Any]] = []
    background = _background_load()
    if background > 0.2:
        _say(f"WARNING: {background:.2f} cores already busy before start; figures will suffer")
    try:
        with Stack(logs) as stack:
            _say("starting Postgres database, Redis db, fake model, worker")
            stack.start_services()
            stack.worker = stack.start_worker(args.worker_concurrency)
            postgres = _run(scenarios.server_settings(stack.database_url))
            machine = report.machine(stack.redis_url, postgres)
            poll_delay = stack.env().get("WORKER_POLL_DELAY", "default")
            account = None
            for workers in worker_counts:
                run, account = _measure(stack, workers, account, args)
                runs.append(run)
            job_counts = _run(scenarios.job_counts(stack.database_url))
    except KeyboardInterrupt:
        print("bench: interrupted; everything started has been stopped", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"bench: failed: {exc}\n  child logs: {logs}", file=sys.stderr)
        raise

    result: dict[str, Any] = {
        "started_at": started.isoformat(),
        "commit": code,
        "background_cores": background,
        "duration_s": time.monotonic() - clock,
        "machine": machine,
        "config": {
            "gateway_workers": worker_counts,
            "worker_concurrency": args.worker_concurrency,
            "worker_during_load": args.worker_during_load,
            "worker_poll_delay": poll_delay,
            "seconds": args.seconds,
            "fixed_seconds": args.fixed_seconds,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "fixed_fraction": args.fixed_fraction,
            "min_rate": args.min_rate,
            "e2e_jobs": args.e2e_jobs,
            "in_flight": args.in_flight,
            "drain_window_s": args.drain_window,
            "max_tool": "wrk" if loadgen.wrk_available() and not args.python_loadgen else "python",
        },
        "runs": runs,
        "targets": report.targets(runs),
        "job_counts": job_counts,
    }
    path = RESULTS / f"{stamp}.json"
    report.write_json(path, result)
    print()
    print(report.text_table(report.HEADER, report.rows(runs)))
    print("\ncores used during the max runs:")
    print(report.text_table(report.CPU_HEADER, report.cpu_rows(runs)))
    print()
    for check in report.targets(runs):
        verdict = "met" if check["met"] else "NOT met"
        measured = f"{check['value']:.1f}{check['unit']}"
        print(f"W={check['workers']}: {check['target']}: {measured} {verdict}")
    print(f"\nresults: {path}")
    if not args.no_docs:
        report.write_docs(result, path.name)
        print(f"docs:    {report.DOCS}")
    print(f"took {result['duration_s']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
