"""The generation pipeline: job → prompt → model → post-process → score → result.

Safe to run twice (ARQ delivers at least once): a job that is already terminal returns at
once, the ledger row is unique per job, and the final write is a conditional transition, so
a cancel that landed while the model was writing wins over the late result.

Retry policy (the only retry layer): the OpenAI SDK's own retries are off; a retryable
provider error puts the job back to ``queued`` and raises ARQ ``Retry`` with the provider's
``Retry-After`` or exponential backoff with full jitter, until ``JOB_MAX_ATTEMPTS`` or
``JOB_DEADLINE`` (counted from submission) runs out, whichever comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import msgspec
from arq import Retry
from loguru import logger
from opentelemetry.trace import SpanKind, Status, StatusCode
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from shared.billing import repository as ledger
from shared.billing.budget import max_completion_tokens
from shared.billing.pricing import cost_usd, format_usd
from shared.clock import utcnow
from shared.db.uow import UnitOfWork
from shared.errors import NotFound
from shared.jobs import lifecycle
from shared.jobs import repository as jobs
from shared.jobs.models import Job
from shared.jobs.schemas import JobResult, StyleScoreOut, UsageOut
from shared.observability import job_stats
from shared.observability.metrics import (
    JOB_ATTEMPTS_RETRIED,
    JOB_DEFERRALS,
    MODEL_CALL_DURATION,
)
from shared.observability.tracing import get_tracer
from shared.profiles import repository as profiles
from shared.profiles.service import style_of
from shared.queue.tasks import GenerationPayload
from shared.style import Sample, build_prompt, postprocess, representative_samples, rules_for
from shared.style.score import score
from workers.context import WorkerDeps
from workers.providers import (
    ChatMessage,
    GenerationHints,
    GenerationRequest,
    GenerationResult,
    ProviderError,
)

LOST = "worker_lost"
DEADLINE_EXCEEDED = "deadline_exceeded"
BACKOFF_BASE = 1.0
BACKOFF_CAP = 60.0
DEFAULT_TEMPERATURE = 0.7
tracer = get_tracer("ghostpen.workers.generation")


class JobFailed(Exception):
    """A permanent, recorded failure of one job (not a worker error)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Outcome:
    generated: GenerationResult
    result: JobResult
    cost: Decimal


def backoff(attempt: int, retry_after: float | None) -> float:
    """Honour the provider's Retry-After; otherwise full-jitter exponential backoff."""
    if retry_after is not None:
        return min(max(retry_after, 0.1), BACKOFF_CAP * 5)
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(attempt - 1, 0))
    return max(0.2, random.uniform(0, ceiling))  # noqa: S311 - jitter, not security


async def run(deps: WorkerDeps, payload: GenerationPayload) -> str:
    """Run one attempt of a job; return its resulting status ("skipped" if already done).

    Raises ARQ ``Retry`` to defer the job, without using an attempt, while the model's circuit
    is open, and after a retryable model error.
    """
    deferral = deps.provider.deferral()
    if deferral is not None:
        # Spread the jobs held back together, or they all come back at the same instant and
        # all but a few are held back again. Counted, not logged at info: there can be many.
        defer = deferral.seconds + random.uniform(0, deferral.seconds / 2 + 0.1)  # noqa: S311
        JOB_DEFERRALS.labels(deferral.reason).inc()
        logger.debug("job.deferred", reason=deferral.reason, defer=round(defer, 3))
        raise Retry(defer=defer)
    with tracer.start_as_current_span("db.job.start"):
        job = await _start(deps, payload.job_id)
    if job is None:
        logger.info("job.skipped", reason="not claimable")
        return "skipped"
    if job.attempts > deps.settings.job_max_attempts:
        # Only a job whose worker died on its last attempt gets here (see workers.recovery).
        return await _finish_failed(
            deps, job, LOST, f"gave up after {job.attempts - 1} attempts; the last one was lost"
        )
    if _seconds_left(deps, job) <= 0:
        return await _finish_failed(
            deps,
            job,
            DEADLINE_EXCEEDED,
            f"not done within JOB_DEADLINE ({deps.settings.job_deadline} s) of submission",
        )
    logger.info("job.started", attempt=job.attempts)
    async with _lease_kept(deps, job.id):
        try:
            result = await _generate(deps, job)
        except ProviderError as error:
            return await _handle_provider_error(deps, job, error)
        except JobFailed as failure:
            return await _finish_failed(deps, job, failure.code, failure.message)
        return await _finish_succeeded(deps, job, result)


async def _start(deps: WorkerDeps, job_id: str) -> Job | None:
    """Claim an attempt under this worker's lease (a finished or held job is left alone)."""
    async with UnitOfWork(deps.db.sessions, deps.relay) as uow:
        job = await jobs.claim(uow.session, job_id, worker_id=deps.worker_id, lease=_lease(deps))
        await uow.commit()
    return job


def _lease(deps: WorkerDeps) -> timedelta:
    return timedelta(seconds=deps.settings.job_lease_seconds)


@contextlib.asynccontextmanager
async def _lease_kept(deps: WorkerDeps, job_id: str) -> AsyncIterator[None]:
    """Renew the job's lease every third of its length while the attempt runs, so only a
    worker that stopped (crashed, killed, cut off) lets it expire."""

    async def keep() -> None:
        while True:
            await asyncio.sleep(deps.settings.job_lease_seconds / 3)
            try:
                async with deps.db.sessions() as session, session.begin():
                    await jobs.renew_lease(
                        session, job_id, worker_id=deps.worker_id, lease=_lease(deps)
                    )
            except (SQLAlchemyError, OSError) as exc:
                # Keep trying: the lease still has two thirds of its length to run.
                logger.warning("job.lease_renewal_failed", error=type(exc).__name__)

    keeper = asyncio.create_task(keep(), name=f"lease:{job_id}")
    try:
        yield
    finally:
        keeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await keeper


async def _generate(deps: WorkerDeps, job: Job) -> Outcome:
    async with deps.db.read_sessions() as session:
        try:
            profile = await profiles.get_owned(session, job.user_id, job.profile_id)
        except NotFound:
            raise JobFailed("profile_not_found", "the job's profile no longer exists") from None
        rows = await profiles.samples_of(session, profile.id)
    style = style_of(profile)
    samples = [Sample(platform=row.platform, text=row.text) for row in rows]  # type: ignore[arg-type]
    platform = job.platform
    options = job.options
    with tracer.start_as_current_span("prompt.build"):
        prompt = build_prompt(
            style,
            samples,
            platform,  # type: ignore[arg-type]
            job.topic,
            language=options.get("language"),
            target_length=options.get("target_length"),
            variant=options.get("variant"),
        )
        chosen = representative_samples(samples, style, platform, k=3)  # type: ignore[arg-type]
    model = options.get("model") or deps.settings.openai_model
    limit = rules_for(platform).max_chars  # type: ignore[arg-type]
    request = GenerationRequest(
        model=model,
        messages=(
            ChatMessage(role="system", content=prompt.system),
            ChatMessage(role="user", content=prompt.user),
        ),
        temperature=options.get("temperature", DEFAULT_TEMPERATURE),
        max_tokens=max_completion_tokens(platform),  # type: ignore[arg-type]
        hints=GenerationHints(
            topic=job.topic,
            platform=platform,
            language=options.get("language") or style.language,
            target_length=min(options.get("target_length") or int(style.avg_length) or 600, limit),
            samples=tuple(sample.text for sample in chosen),
            signature_phrases=tuple(style.signature_phrases),
            top_emojis=tuple(style.top_emojis),
            top_hashtags=tuple(style.top_hashtags),
        ),
    )
    generated = await _call_model(deps, request)
    text = postprocess(generated.text, platform, style)  # type: ignore[arg-type]
    if not text.strip():
        raise JobFailed("empty_result", "the model returned no usable text")
    style_score = score(text, style, platform)  # type: ignore[arg-type]
    usage = generated.usage
    price = deps.settings.price_for(generated.model) or deps.settings.price_for(model)
    if price is None:
        logger.warning("billing.unpriced_model", model=generated.model, hint="set MODEL_PRICES")
    cost = cost_usd(
        price,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        cached_prompt_tokens=usage.cached_prompt_tokens,
    )
    result = JobResult(
        text=text,
        style_score=StyleScoreOut(overall=style_score.overall, features=style_score.features),
        model=generated.model,
        backend=generated.backend,
        usage=UsageOut(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
            cached_prompt_tokens=usage.cached_prompt_tokens,
        ),
        cost_usd=format_usd(cost),
        template_version=prompt.template_version,
    )
    return Outcome(generated=generated, result=result, cost=cost)


async def _call_model(deps: WorkerDeps, request: GenerationRequest) -> GenerationResult:
    started = time.perf_counter()
    with tracer.start_as_current_span("model.call", kind=SpanKind.CLIENT) as span:
        span.set_attribute("gen_ai.request.model", request.model)
        span.set_attribute("gen_ai.system", deps.provider.name)
        try:
            generated = await deps.provider.generate(request)
        except ProviderError as error:
            span.set_status(Status(StatusCode.ERROR, error.code))
            span.set_attribute("error.type", error.code)
            MODEL_CALL_DURATION.labels(request.model, error.code).observe(
                time.perf_counter() - started
            )
            raise
        span.set_attribute("gen_ai.response.model", generated.model)
        span.set_attribute("gen_ai.usage.input_tokens", generated.usage.prompt_tokens)
        span.set_attribute("gen_ai.usage.output_tokens", generated.usage.completion_tokens)
        span.set_attribute("gen_ai.usage.cached_input_tokens", generated.usage.cached_prompt_tokens)
    MODEL_CALL_DURATION.labels(generated.model, "ok").observe(time.perf_counter() - started)
    return generated


def _seconds_left(deps: WorkerDeps, job: Job) -> float:
    """Time left before the job's deadline (``JOB_DEADLINE`` after its submission)."""
    deadline = job.created_at + timedelta(seconds=deps.settings.job_deadline)
    return (deadline - utcnow()).total_seconds()


async def _handle_provider_error(deps: WorkerDeps, job: Job, error: ProviderError) -> str:
    if not error.retryable or job.attempts >= deps.settings.job_max_attempts:
        return await _finish_failed(deps, job, error.code, error.message)
    delay = backoff(job.attempts, error.retry_after)
    if delay >= _seconds_left(deps, job):
        message = f"{error.message}; the next retry would come after the job's deadline"
        return await _finish_failed(deps, job, error.code, message)
    async with UnitOfWork(deps.db.sessions, deps.relay) as uow:
        requeued = await jobs.transition(
            uow.session,
            job.id,
            from_statuses=("running",),
            status="queued",
            error_code=error.code,
            error_message=f"attempt {job.attempts} failed: {error.message}; retrying",
        )
        await uow.commit()
    if requeued is None:
        return "canceled"
    JOB_ATTEMPTS_RETRIED.labels(error.code).inc()
    logger.warning("job.retry_scheduled", code=error.code, attempt=job.attempts, defer=delay)
    raise Retry(defer=delay)


async def _finish_failed(deps: WorkerDeps, job: Job, code: str, message: str) -> str:
    with tracer.start_as_current_span("db.job.finish", attributes={"ghostpen.status": "failed"}):
        failed = await _record_failure(deps, job, code, message)
    return await _observe(deps, job, "failed" if failed else "canceled", None)


async def _record_failure(deps: WorkerDeps, job: Job, code: str, message: str) -> Job | None:
    async with UnitOfWork(deps.db.sessions, deps.relay) as uow:
        await ledger.record_once(
            uow.session,
            job_id=job.id,
            user_id=job.user_id,
            model=job.options.get("model") or deps.settings.openai_model,
            platform=job.platform,
            prompt_tokens=0,
            cached_prompt_tokens=0,
            completion_tokens=0,
            model_calls=job.attempts,
            cost_usd=cost_usd(None, prompt_tokens=0, completion_tokens=0),
        )
        failed = await jobs.transition(
            uow.session,
            job.id,
            from_statuses=("running",),
            status="failed",
            error_code=code,
            error_message=message,
            **jobs.finished_now(),
        )
        if failed is not None:
            await lifecycle.finished(uow, [failed])
        await uow.commit()
    return failed


async def _finish_succeeded(deps: WorkerDeps, job: Job, outcome: Outcome) -> str:
    with tracer.start_as_current_span("db.job.finish", attributes={"ghostpen.status": "succeeded"}):
        succeeded, billed = await _record_success(deps, job, outcome)
    return await _observe(
        deps, job, "succeeded" if succeeded else "canceled", outcome if billed else None
    )


async def _record_success(deps: WorkerDeps, job: Job, outcome: Outcome) -> tuple[bool, bool]:
    """Bill the job (once) and store its result unless it was canceled meanwhile."""
    generated, result, usage = outcome.generated, outcome.result, outcome.generated.usage
    async with UnitOfWork(deps.db.sessions, deps.relay) as uow:
        billed = await ledger.record_once(
            uow.session,
            job_id=job.id,
            user_id=job.user_id,
            model=generated.model,
            platform=job.platform,
            prompt_tokens=usage.prompt_tokens,
            cached_prompt_tokens=usage.cached_prompt_tokens,
            completion_tokens=usage.completion_tokens,
            model_calls=job.attempts,
            cost_usd=outcome.cost,
        )
        succeeded = await jobs.transition(
            uow.session,
            job.id,
            from_statuses=("running",),
            status="succeeded",
            result=msgspec.to_builtins(result),
            template_version=result.template_version,
            error_code=None,
            error_message=None,
            **jobs.finished_now(),
        )
        if succeeded is not None:
            await lifecycle.finished(uow, [succeeded])
        await uow.commit()
    return succeeded is not None, billed


async def _observe(deps: WorkerDeps, job: Job, status: str, billed: Outcome | None) -> str:
    """Log the outcome and add it (with any usage billed now) to the cluster-wide counters."""
    logger.info(f"job.{status}", attempts=job.attempts)
    usage = billed.generated.usage if billed else None
    try:
        await job_stats.record(
            deps.redis,
            status=status,
            platform=job.platform,
            seconds=(utcnow() - job.created_at).total_seconds(),
            model=billed.generated.model if billed else None,
            tokens={
                "prompt": usage.prompt_tokens,
                "completion": usage.completion_tokens,
                "cached_prompt": usage.cached_prompt_tokens,
            }
            if usage
            else None,
            cost=billed.cost if billed else None,
        )
    except (RedisError, OSError) as exc:
        logger.warning("metrics.record_failed", error=type(exc).__name__)
    return status
