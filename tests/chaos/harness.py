"""A chaos run: the whole platform as processes on its own Postgres and Valkey, under faults.

Two gateways and three workers run on an embedded Postgres and an embedded Valkey (AOF on),
both restartable. Clients submit jobs and batches at a steady pace, retrying with the same
`Idempotency-Key` whenever the platform says it is unavailable. Meanwhile a worker is SIGKILLed
every few seconds (a replacement starts at once), Valkey and Postgres are stopped and started,
sometimes the hard way, the fake model answers 20 % of calls with 429 or 500 and refuses the
first key in `OPENAI_API_KEYS`, and the webhook receiver answers 500 to 20 % of tries.

When every job has finished, :func:`check` holds the platform to its promises for every job
(terminal, at most one ledger row, succeeded at most once, its webhook event delivered under
one stable `webhook-id`) and :class:`Figures` records what was injected and how long recovery
took, for `docs/reliability.md`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import statistics
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import asyncpg
import httpx

from ghostpen.embedded import EmbeddedPostgres, EmbeddedValkey
from tests.conftest import PASSWORD
from tests.factories import ENGLISH_SAMPLES
from tests.fakes.openai_server import FakeOpenAI
from tests.support.processes import Fleet, migrate, platform_env
from tests.support.webhook_receiver import WebhookReceiver

GOOD_KEYS = ("sk-chaos-good-1", "sk-chaos-good-2")
REVOKED_KEY = "sk-chaos-revoked"  # first in OPENAI_API_KEYS: the model server refuses it
BATCH_SIZE = 10
SINGLES_PER_BATCH = 10  # one batch of BATCH_SIZE after every this many single jobs
OUTAGE_SECONDS = 3.0
LEASE_SECONDS = 3
TERMINAL = ("succeeded", "failed", "canceled")
# What a client retries with the same Idempotency-Key; a 500 is retried too, but recorded as a
# defect: the gateway must answer 503 when something it needs is down.
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
# A job may fail for these reasons under this run's faults; any other code is a defect.
EXPECTED_FAILURES = frozenset(
    {"model_unavailable", "model_rate_limited", "model_timeout", "worker_lost"}
)
PLATFORMS = ("x", "linkedin", "telegram", "facebook", "instagram")
EVENTS = ["job.succeeded", "job.failed", "batch.completed"]
Service = Literal["redis", "postgres"]


@dataclass(frozen=True)
class Outage:
    at: float  # seconds after the start of submissions
    service: Service
    crash: bool  # SIGKILL Valkey / `pg_ctl -m immediate` rather than a clean stop


@dataclass(frozen=True)
class Plan:
    """How much load and which faults; :meth:`sized` spreads them over the submission window."""

    jobs: int
    window: float  # seconds over which jobs are submitted and faults injected
    kill_every: float
    outages: tuple[Outage, ...]
    settle: float  # seconds after the window within which everything must have finished
    gateways: int = 2
    workers: int = 3
    model_fault_rate: float = 0.2
    webhook_fault_rate: float = 0.2
    model_latency: float = 0.2

    @classmethod
    def sized(cls, jobs: int) -> Plan:
        window = max(20.0, jobs / 25)
        kinds: list[tuple[Service, bool]] = (
            [("redis", False), ("postgres", True)]
            if jobs < 1000
            else [
                ("redis", False),
                ("postgres", False),
                ("redis", True),
                ("postgres", True),
                ("redis", False),
                ("postgres", True),
            ]
        )
        outages = tuple(
            Outage(at=window * (n + 1) / (len(kinds) + 1), service=service, crash=crash)
            for n, (service, crash) in enumerate(kinds)
        )
        # Generous: the settle time bounds the wait, it is not a target (see the figures).
        return cls(
            jobs=jobs, window=window, kill_every=4.0, outages=outages, settle=150 + jobs / 10
        )


@dataclass
class Kill:
    held: int  # running jobs the worker held when it was killed
    recovered_after: float | None = None  # until none was still held under its dead lease


@dataclass
class OutageRecord:
    outage: Outage
    took_effect: bool = True  # the service was really unreachable (checked for Postgres)
    ready_after: float | None = None  # from restart until every gateway's readiness is 200
    job_finished_after: float | None = None  # from restart until a job finished


@dataclass
class Figures:
    seconds: float = 0.0
    drain_seconds: float = 0.0  # from the end of submissions until every webhook was delivered
    single_jobs: int = 0
    batches: int = 0
    client_retries: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    kills: list[Kill] = field(default_factory=list)
    outages: list[OutageRecord] = field(default_factory=list)
    model_answers: Counter[str] = field(default_factory=Counter)
    webhook_tries: Counter[str] = field(default_factory=Counter)
    statuses: Counter[str] = field(default_factory=Counter)
    failure_codes: Counter[str] = field(default_factory=Counter)
    attempts: Counter[int] = field(default_factory=Counter)


@dataclass(frozen=True)
class User:
    headers: dict[str, str]
    profile_id: str


@dataclass(frozen=True)
class Received:
    type: str
    subject: str
    webhook_id: str
    ok: bool


class ChaosRun:
    """Owns the services, the processes and the clients of one run."""

    def __init__(self, plan: Plan, root: Path, *, seed: int = 7) -> None:
        self.plan = plan
        self.root = root
        self.random = random.Random(seed)
        self.figures = Figures()
        self.postgres = EmbeddedPostgres(root / "postgres")
        self.valkey = EmbeddedValkey(root / "valkey", appendonly=True)
        self.model = FakeOpenAI(
            api_keys=GOOD_KEYS,
            latency=plan.model_latency,
            fault_rate=plan.model_fault_rate,
            seed=seed,
        )
        self.receiver = WebhookReceiver(fail_rate=plan.webhook_fault_rate, seed=seed)
        self.fleet: Fleet | None = None
        self.workers: list[Any] = []
        self.pool: asyncpg.Pool | None = None
        self.clients: list[httpx.AsyncClient] = []
        self.users: list[User] = []
        self.job_ids: set[str] = set()
        self.batch_ids: set[str] = set()
        self._measurements: set[asyncio.Task[None]] = set()

    # -- set-up and tear-down -------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ChaosRun]:
        async with contextlib.AsyncExitStack() as stack:
            database_url = await asyncio.to_thread(self.postgres.start)
            stack.push_async_callback(asyncio.to_thread, self.postgres.stop)
            redis_url = await asyncio.to_thread(self.valkey.start)
            stack.push_async_callback(asyncio.to_thread, self.valkey.stop)
            stack.enter_context(self.model)
            stack.enter_context(self.receiver)
            env = platform_env(self.model, database_url, redis_url, self._env())
            await asyncio.to_thread(migrate, env)
            logs = self.root / "logs"
            logs.mkdir()
            fleet = self.fleet = Fleet(env, logs)
            stack.push_async_callback(asyncio.to_thread, fleet.stop)
            for _ in range(self.plan.gateways):
                fleet.spawn_gateway()
            self.workers = [fleet.spawn("worker") for _ in range(self.plan.workers)]
            for url in fleet.gateway_urls:
                await asyncio.to_thread(fleet.wait_ready, url)
            self.pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
            stack.push_async_callback(self.pool.close)
            for url in fleet.gateway_urls:
                client = httpx.AsyncClient(base_url=f"{url}/api/v1", timeout=15)
                stack.push_async_callback(client.aclose)
                self.clients.append(client)
            self.users = [await self._sign_up(n) for n in range(2)]
            yield self

    def _env(self) -> dict[str, str]:
        return {
            "OPENAI_API_KEYS": ",".join((REVOKED_KEY, *GOOD_KEYS)),
            "JOB_LEASE_SECONDS": str(LEASE_SECONDS),
            "JOB_MAX_ATTEMPTS": "6",
            "WEBHOOK_RETRY_SCHEDULE": "0,0.5,1,1,2,2,3,3,5,5,5,5",
            "WORKER_DRAIN_TIMEOUT": "5",
            "ACCESS_TOKEN_TTL": "2h",
        }

    async def _sign_up(self, number: int) -> User:
        api = self.clients[0]
        email = f"chaos-{number}@example.com"
        registered = await api.post("/auth/register", json={"email": email, "password": PASSWORD})
        assert registered.status_code == 201, registered.text
        login = await api.post("/auth/login", json={"email": email, "password": PASSWORD})
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        profile = await api.post(
            "/profiles",
            json={"name": f"Author {number}", "samples": ENGLISH_SAMPLES},
            headers=headers,
        )
        assert profile.status_code == 201, profile.text
        endpoint = await api.post(
            "/webhook-endpoints",
            json={"url": f"{self.receiver.url}/user-{number}", "events": EVENTS},
            headers=headers,
        )
        assert endpoint.status_code == 201, endpoint.text
        return User(headers=headers, profile_id=profile.json()["id"])

    # -- the run --------------------------------------------------------------------------

    async def run(self) -> None:
        began = time.monotonic()
        chaos = asyncio.create_task(self._inject_faults(began))
        await self._submit_all(began)
        await chaos
        submitted = time.monotonic()
        await self._until_settled()
        await asyncio.wait_for(
            asyncio.gather(*self._measurements), timeout=max(10.0, self.plan.settle)
        )
        self.figures.drain_seconds = time.monotonic() - submitted
        self.figures.seconds = time.monotonic() - began

    async def _submit_all(self, began: float) -> None:
        sizes = self._submission_sizes()
        gap = self.plan.window / len(sizes)
        in_flight = asyncio.Semaphore(64)
        async with asyncio.TaskGroup() as group:
            for number, size in enumerate(sizes):
                await asyncio.sleep(max(0.0, began + number * gap - time.monotonic()))
                await in_flight.acquire()
                group.create_task(self._submit(number, size, in_flight))

    def _submission_sizes(self) -> list[int]:
        """Single jobs, with a batch of BATCH_SIZE after every SINGLES_PER_BATCH of them."""
        group = SINGLES_PER_BATCH + BATCH_SIZE
        groups, rest = divmod(self.plan.jobs, group)
        return [1] * SINGLES_PER_BATCH * groups + [BATCH_SIZE] * groups + [1] * rest

    async def _submit(self, number: int, size: int, in_flight: asyncio.Semaphore) -> None:
        try:
            user = self.users[number % len(self.users)]
            item = {"profile_id": user.profile_id, "platform": PLATFORMS[number % len(PLATFORMS)]}
            if size == 1:
                path, body = "/jobs", {**item, "topic": f"chaos run, post {number}"}
            else:
                items = [
                    {**item, "topic": f"chaos run, batch {number} item {n}", "custom_id": str(n)}
                    for n in range(size)
                ]
                path, body = "/batches", {"items": items}
            created = await self._post_until_accepted(number, path, body, user)
            (self.job_ids if size == 1 else self.batch_ids).add(created)
        finally:
            in_flight.release()

    async def _post_until_accepted(
        self, number: int, path: str, body: dict[str, Any], user: User
    ) -> str:
        """What a careful client does: retry with the same Idempotency-Key until accepted."""
        headers = {**user.headers, "Idempotency-Key": uuid.uuid4().hex}
        deadline = time.monotonic() + self.plan.window + 120
        attempt = 0
        while True:
            client = self.clients[(number + attempt) % len(self.clients)]
            attempt += 1
            delay = 0.5
            try:
                response = await client.post(path, json=body, headers=headers)
            except httpx.TransportError as error:
                self.figures.client_retries[type(error).__name__] += 1
            else:
                if response.status_code == 202:
                    created: str = response.json()["id"]
                    return created
                if response.status_code not in RETRIED_STATUSES:
                    status, text = response.status_code, response.text
                    raise AssertionError(f"POST {path} answered {status}: {text}")
                if response.status_code == 500:
                    self.figures.server_errors.append(f"POST {path}: {response.text[:300]}")
                self.figures.client_retries[str(response.status_code)] += 1
                delay = min(float(response.headers.get("retry-after", delay)), 2.0)
            if time.monotonic() > deadline:
                raise AssertionError(f"POST {path} was not accepted in time")
            await asyncio.sleep(delay)

    async def _inject_faults(self, began: float) -> None:
        """Worker kills every ``kill_every`` seconds and the planned outages, in time order."""
        kills = int(self.plan.window // self.plan.kill_every)
        timeline: list[tuple[float, Outage | None]] = [
            (self.plan.kill_every * (n + 1), None) for n in range(kills)
        ] + [(outage.at, outage) for outage in self.plan.outages]
        for at, outage in sorted(timeline, key=lambda event: event[0]):
            await asyncio.sleep(max(0.0, began + at - time.monotonic()))
            if outage is None:
                await self._kill_a_worker()
            else:
                await self._interrupt(outage)

    async def _kill_a_worker(self) -> None:
        """SIGKILL a worker that holds jobs (any worker if none does) and start a replacement."""
        assert self.fleet is not None
        held = await self._held_jobs()
        alive = [worker for worker in self.workers if worker.poll() is None]
        victim = self.random.choice([w for w in alive if held.get(w.pid)] or alive)
        jobs = held.get(victim.pid, [])
        await asyncio.to_thread(Fleet.kill, victim)
        killed_at = time.monotonic()
        self.workers.remove(victim)
        self.workers.append(self.fleet.spawn("worker"))
        kill = Kill(held=len(jobs))
        self.figures.kills.append(kill)
        if jobs:
            self._measure(self._time_lease_recovery(kill, victim.pid, jobs, killed_at))

    async def _held_jobs(self) -> dict[int, list[str]]:
        """Running jobs by the pid of the worker whose lease they are under."""
        rows = await self._fetch(
            "SELECT leased_by, array_agg(id) AS ids FROM jobs"
            " WHERE status = 'running' AND leased_by IS NOT NULL GROUP BY leased_by"
        )
        return {int(row["leased_by"].rsplit(":", 1)[1]): list(row["ids"]) for row in rows or ()}

    async def _time_lease_recovery(
        self, kill: Kill, pid: int, jobs: list[str], killed_at: float
    ) -> None:
        async def recovered() -> bool:
            """None of its jobs is still running under its lease: requeued or finished."""
            rows = await self._fetch(
                "SELECT count(*) FILTER (WHERE status <> 'running' OR leased_by NOT LIKE $2)"
                " AS n FROM jobs WHERE id = ANY($1::text[])",
                jobs,
                f"%:{pid}",
            )
            return rows is not None and rows[0]["n"] == len(jobs)

        kill.recovered_after = await self._seconds_until(recovered, since=killed_at)

    async def _interrupt(self, outage: Outage) -> None:
        server: EmbeddedPostgres | EmbeddedValkey = (
            self.valkey if outage.service == "redis" else self.postgres
        )
        await asyncio.to_thread(server.stop, crash=outage.crash)
        # A stop that silently failed would make the run prove nothing about this outage.
        took_effect = outage.service == "redis" or await self._fetch("SELECT 1") is None
        await asyncio.sleep(OUTAGE_SECONDS)
        await asyncio.to_thread(server.start)
        back, back_at = time.monotonic(), datetime.now(UTC)
        record = OutageRecord(outage, took_effect)
        self.figures.outages.append(record)
        self._measure(self._time_outage_recovery(record, back, back_at))

    async def _time_outage_recovery(
        self, record: OutageRecord, back: float, back_at: datetime
    ) -> None:
        async def ready() -> bool:
            for client in self.clients:
                with contextlib.suppress(httpx.TransportError):
                    answer = await client.get(
                        str(client.base_url.join("/health/ready")), params={"workers": "false"}
                    )
                    if answer.status_code != 200:
                        return False
                    continue
                return False
            return True

        async def job_finished() -> bool:
            rows = await self._fetch("SELECT 1 FROM jobs WHERE finished_at > $1 LIMIT 1", back_at)
            return bool(rows)

        record.ready_after = await self._seconds_until(ready, since=back)
        record.job_finished_after = await self._seconds_until(job_finished, since=back)

    def _measure(self, measurement: Awaitable[None]) -> None:
        task = asyncio.ensure_future(measurement)
        self._measurements.add(task)

    async def _seconds_until(
        self, condition: Callable[[], Awaitable[bool]], *, since: float, within: float | None = None
    ) -> float | None:
        """Seconds from ``since`` until ``condition`` holds; None if it did not in time."""
        deadline = since + (self.plan.window + self.plan.settle if within is None else within)
        while time.monotonic() < deadline:
            if await condition():
                return round(time.monotonic() - since, 2)
            await asyncio.sleep(0.2)
        return None

    async def _until_settled(self) -> None:
        """Until no job is unfinished and no webhook delivery pending (or the settle time ends)."""

        async def settled() -> bool:
            rows = await self._fetch(
                "SELECT (SELECT count(*) FROM jobs WHERE status NOT IN"
                " ('succeeded', 'failed', 'canceled'))"
                " + (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending') AS n"
            )
            return rows is not None and rows[0]["n"] == 0

        await self._seconds_until(settled, since=time.monotonic(), within=self.plan.settle)

    async def _fetch_surely(self, sql: str) -> list[asyncpg.Record]:
        """Rows for the verdict: a pooled connection broken by the last outage is retried."""
        for _ in range(20):
            rows = await self._fetch(sql)
            if rows is not None:
                return rows
            await asyncio.sleep(0.5)
        raise AssertionError(f"Postgres did not answer the verdict's query: {sql}")

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record] | None:
        """Rows, or None while Postgres is down: the run's own probes must ride out outages."""
        assert self.pool is not None
        try:
            return list(await self.pool.fetch(sql, *args, timeout=5))
        except (
            OSError,
            TimeoutError,
            asyncpg.PostgresError,
            asyncpg.InterfaceError,
            asyncpg.InternalClientError,
        ):
            return None

    # -- the verdict ----------------------------------------------------------------------

    async def check(self) -> list[str]:
        """Every broken promise, one line each; also fills in the outcome figures."""
        jobs = await self._fetch_surely(
            "SELECT j.id, j.status, j.error_code, j.attempts, j.batch_id,"
            " (SELECT count(*) FROM usage_ledger l WHERE l.job_id = j.id) AS ledger_rows"
            " FROM jobs j"
        )
        batches = await self._fetch_surely("SELECT id, status, total, pending FROM batches")
        deliveries = await self._fetch_surely(
            "SELECT status, count(*) AS n FROM webhook_deliveries GROUP BY status"
        )
        self.figures.single_jobs, self.figures.batches = len(self.job_ids), len(self.batch_ids)
        self._count_faults()
        received = self._received()
        problems = self._check_processes() + [
            f"the gateway answered 500: {error}" for error in self.figures.server_errors
        ]
        problems += [
            f"the {record.outage.service} outage at {record.outage.at:.0f} s did not happen"
            for record in self.figures.outages
            if not record.took_effect
        ]
        problems += [
            f"{row['n']} webhook deliveries ended {row['status']}"
            for row in deliveries
            if row["status"] != "succeeded"
        ]
        problems += self._check_jobs(jobs, received) + self._check_batches(batches, received)
        return problems + await self._check_graceful_stop()

    async def _check_graceful_stop(self) -> list[str]:
        """SIGTERM to every process still running: each must exit by itself, with status 0."""
        assert self.fleet is not None
        running = [process for process in self.fleet.processes if process.poll() is None]
        killed = await asyncio.to_thread(self.fleet.stop)
        return [f"{process.args} ignored SIGTERM and was killed" for process in killed] + [
            f"{process.args} exited with {process.returncode} on SIGTERM"
            for process in running
            if process not in killed and process.returncode != 0
        ]

    def _check_processes(self) -> list[str]:
        assert self.fleet is not None
        gateways = self.fleet.processes[: self.plan.gateways]  # started first
        return [
            f"process {process.args} exited by itself with {process.returncode}"
            for process in [*gateways, *self.workers]
            if process.poll() is not None
        ]

    def _check_jobs(
        self, jobs: list[asyncpg.Record], received: dict[tuple[str, str], list[Received]]
    ) -> list[str]:
        problems: list[str] = []
        batch_jobs = Counter(row["batch_id"] for row in jobs if row["batch_id"])
        single = {row["id"] for row in jobs if not row["batch_id"]}
        if single != self.job_ids:
            problems.append(
                f"single jobs: {len(self.job_ids)} accepted, {len(single)} stored,"
                f" {len(self.job_ids - single)} accepted but missing"
            )
        if set(batch_jobs) != self.batch_ids or set(batch_jobs.values()) - {BATCH_SIZE}:
            problems.append(f"batch items stored do not match the batches accepted: {batch_jobs}")
        for row in jobs:
            status, job_id = row["status"], row["id"]
            self.figures.statuses[status] += 1
            self.figures.attempts[row["attempts"]] += 1
            if status not in TERMINAL:
                problems.append(f"job {job_id} is still {status}")
                continue
            if status == "failed":
                self.figures.failure_codes[row["error_code"]] += 1
                if row["error_code"] not in EXPECTED_FAILURES:
                    problems.append(f"job {job_id} failed with {row['error_code']}")
            if row["ledger_rows"] > 1 or (status == "succeeded" and row["ledger_rows"] != 1):
                problems.append(f"job {job_id} ({status}) has {row['ledger_rows']} ledger rows")
            events = {kind: ids for (kind, subject), ids in received.items() if subject == job_id}
            problems += _check_event(f"job {job_id}", f"job.{status}", events)
        return problems

    def _check_batches(
        self, batches: list[asyncpg.Record], received: dict[tuple[str, str], list[Received]]
    ) -> list[str]:
        problems: list[str] = []
        for row in batches:
            if row["status"] != "completed" or row["pending"] != 0:
                problems.append(f"batch {row['id']} is {row['status']}, {row['pending']} pending")
            events = {
                kind: ids for (kind, subject), ids in received.items() if subject == row["id"]
            }
            problems += _check_event(f"batch {row['id']}", "batch.completed", events)
        return problems

    def _received(self) -> dict[tuple[str, str], list[Received]]:
        """What the receiver got, by (event type, job or batch id)."""
        by_subject: defaultdict[tuple[str, str], list[Received]] = defaultdict(list)
        for request in self.receiver.received:
            event = json.loads(request.body)
            data = event["data"]
            subject = (data.get("job") or data.get("batch"))["id"]
            by_subject[(event["type"], subject)].append(
                Received(
                    type=event["type"],
                    subject=subject,
                    webhook_id=request.headers["webhook-id"],
                    ok=request.answered < 300,
                )
            )
        return by_subject

    def _count_faults(self) -> None:
        for request in self.model.requests:
            if request.path.endswith("/chat/completions"):
                answer = "dropped" if request.status is None else str(request.status)
                self.figures.model_answers[answer] += 1
        for request in self.receiver.received:
            self.figures.webhook_tries[str(request.answered)] += 1


def _check_event(subject: str, expected: str, events: dict[str, list[Received]]) -> list[str]:
    """The subject's one terminal event: no other kind, one webhook-id, delivered."""
    problems = [f"{subject} got a {kind} event" for kind in events if kind != expected]
    tries = events.get(expected, [])
    ids = {received.webhook_id for received in tries}
    if len(ids) != 1:
        problems.append(f"{subject}: {expected} arrived under {len(ids)} webhook-ids")
    if not any(received.ok for received in tries):
        problems.append(f"{subject}: {expected} was never delivered")
    return problems


def report(plan: Plan, figures: Figures) -> str:
    """The figures as the Markdown section of docs/reliability.md."""
    kills_held = [kill for kill in figures.kills if kill.held]
    recoveries = [k.recovered_after for k in kills_held if k.recovered_after is not None]
    injected_model = figures.model_answers["429"] + figures.model_answers["500"]
    lines = [
        f"- Jobs: **{plan.jobs:,}** ({figures.single_jobs:,} single `POST /jobs`,"
        f" {figures.batches} batches of {BATCH_SIZE}), submitted over {plan.window:.0f} s by"
        f" clients retrying with the same `Idempotency-Key`; {plan.gateways} gateways,"
        f" {plan.workers} workers (each killed worker replaced at once).",
        f"- Outcome: {_counter(figures.statuses)}; failure codes {_counter(figures.failure_codes)};"
        f" attempts per job {_counter(figures.attempts)}.",
        f"- Whole run {figures.seconds:.0f} s; everything finished and delivered"
        f" {figures.drain_seconds:.0f} s after the last submission.",
        f"- Worker SIGKILLs: **{len(figures.kills)}** ({len(kills_held)} while holding jobs,"
        f" {sum(k.held for k in kills_held)} jobs in hand); their jobs released from the dead"
        f" worker's lease (requeued, or finished) after {_spread(recoveries)} s (lease"
        f" {LEASE_SECONDS} s, recovery cron every 5 s).",
        f"- Model calls: {sum(figures.model_answers.values()):,}, of which {injected_model:,}"
        f" injected 429/500 ({_counter(figures.model_answers)}; 401 = the revoked key tried"
        " once per worker process, then quarantined).",
        f"- Webhook tries: {sum(figures.webhook_tries.values()):,}"
        f" ({_counter(figures.webhook_tries)}).",
        f"- Client retries while the platform was unavailable: {_counter(figures.client_retries)};"
        f" gateway 500s: {len(figures.server_errors)}.",
        "",
        "| Outage | Kind | Down | Gateways ready again after | First job finished after |",
        "| --- | --- | --- | --- | --- |",
    ]
    for number, record in enumerate(figures.outages, 1):
        outage = record.outage
        kind = (
            ("SIGKILL" if outage.service == "redis" else "crash (`-m immediate`)")
            if (outage.crash)
            else "clean stop"
        )
        lines.append(
            f"| {number}. {'Valkey' if outage.service == 'redis' else 'Postgres'}"
            f" at {outage.at:.0f} s | {kind} | {OUTAGE_SECONDS:.0f} s |"
            f" {_seconds(record.ready_after)} | {_seconds(record.job_finished_after)} |"
        )
    return "\n".join(lines) + "\n"


def _counter(counter: Counter[Any]) -> str:
    items = sorted(counter.items(), key=str)
    return ", ".join(f"{key}: {value:,}" for key, value in items) or "none"


def _spread(values: list[float]) -> str:
    if not values:
        return "n/a"
    return f"median {statistics.median(values):.1f}, max {max(values):.1f}"


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"
