"""Log lines: shape, context binding, stdlib interception, trace ids and secret masking."""

import io
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from loguru import logger
from opentelemetry import trace

from shared.observability import (
    configure_logging,
    configure_tracing,
    get_tracer,
    mask,
    new_request_id,
    valid_request_id,
)
from shared.webhooks.signing import new_secret

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
OPENAI_KEY = "sk-proj-4f9Qm2Lx7Rt1Vb8Nc3Zs"
GHOSTPEN_KEY = "gp_Zx81KqLm02NvTr5YwPb7Hc4s"
WEBHOOK_SECRET = new_secret()


@pytest.fixture
def output() -> io.StringIO:
    sink = io.StringIO()
    configure_logging(level="DEBUG", fmt="json", service="gateway", sink=sink)
    return sink


def lines(sink: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in sink.getvalue().splitlines()]


def test_json_line_carries_event_and_bound_context(output: io.StringIO) -> None:
    with logger.contextualize(request_id="req-1", user_id="user-7"):
        logger.bind(job_id="job-3").info("job.succeeded", attempts=2, platform="linkedin")
    logger.info("job.swept")

    inside, after = lines(output)
    assert inside["message"] == "job.succeeded"
    assert inside["level"] == "INFO"
    assert inside["service"] == "gateway"
    assert inside["request_id"] == "req-1"
    assert inside["user_id"] == "user-7"
    assert inside["job_id"] == "job-3"
    assert inside["attempts"] == 2
    assert inside["platform"] == "linkedin"
    assert datetime.fromisoformat(str(inside["time"])).utcoffset() == UTC.utcoffset(None)
    assert "request_id" not in after
    assert "user_id" not in after


def test_exception_is_a_formatted_traceback(output: io.StringIO) -> None:
    try:
        raise RuntimeError("model call failed")
    except RuntimeError:
        logger.exception("job.failed")

    (line,) = lines(output)
    assert line["level"] == "ERROR"
    assert "Traceback (most recent call last)" in str(line["exception"])
    assert "RuntimeError: model call failed" in str(line["exception"])


def test_stdlib_logging_reaches_the_json_sink_once(output: io.StringIO) -> None:
    # uvicorn installs its own handler and stops propagation before the app configures logging.
    access = logging.getLogger("uvicorn.access")
    access.addHandler(logging.StreamHandler(io.StringIO()))
    access.propagate = False
    configure_logging(level="DEBUG", fmt="json", service="gateway", sink=output)

    logging.getLogger("uvicorn.error").warning("Started server process [%d]", 42)
    access.info('%s - "%s %s HTTP/%s" %d', "10.0.0.1:5000", "GET", "/api/v1/jobs", "1.1", 200)
    logging.getLogger("sqlalchemy.engine.Engine").error("connection lost")

    error, access_line, sql = lines(output)
    assert (
        error.items()
        >= {
            "logger": "uvicorn.error",
            "level": "WARNING",
            "message": "Started server process [42]",
            "service": "gateway",
        }.items()
    )
    assert access_line["logger"] == "uvicorn.access"
    assert access_line["message"] == '10.0.0.1:5000 - "GET /api/v1/jobs HTTP/1.1" 200'
    assert sql["logger"] == "sqlalchemy.engine.Engine"
    assert sql["level"] == "ERROR"


def test_configuring_twice_keeps_a_single_sink(output: io.StringIO) -> None:
    configure_logging(level="DEBUG", fmt="json", service="gateway", sink=output)
    logger.info("job.submitted")
    logging.getLogger("arq").info("worker started")

    assert [line["message"] for line in lines(output)] == ["job.submitted", "worker started"]


def test_level_filters_loguru_and_stdlib(output: io.StringIO) -> None:
    configure_logging(level="WARNING", fmt="json", service="gateway", sink=output)
    logger.info("job.submitted")
    logging.getLogger("asyncio").info("poll took 0.2s")
    logger.warning("job.slow")

    assert [line["message"] for line in lines(output)] == ["job.slow"]


def test_trace_and_span_ids_are_added_inside_a_span(output: io.StringIO) -> None:
    configure_tracing("ghostpen-test")
    with get_tracer("test").start_as_current_span("generation.run") as span:
        logger.info("job.started")
    logger.info("job.idle")

    inside, outside = lines(output)
    context = span.get_span_context()
    assert inside["trace_id"] == trace.format_trace_id(context.trace_id)
    assert inside["span_id"] == trace.format_span_id(context.span_id)
    assert "trace_id" not in outside


def test_console_format_is_readable_with_fields() -> None:
    sink = io.StringIO()
    configure_logging(fmt="console", service="worker", sink=sink)
    with logger.contextualize(job_id="job-9"):
        logger.info("job.succeeded", token=OPENAI_KEY)

    text = sink.getvalue()
    assert "INFO" in text
    assert "job.succeeded job_id=job-9 token=***" in text
    assert OPENAI_KEY not in text


@pytest.mark.parametrize(
    ("emit", "secret"),
    [
        pytest.param(
            lambda: logger.info(
                "user.updated",
                payload={"profile": {"Password": "hunter2-nested"}, "steps": [{"api_key": "k1"}]},
            ),
            "hunter2-nested",
            id="nested-key-name",
        ),
        pytest.param(
            lambda: logger.bind(headers={"Set-Cookie": "session=c00k1e-value"}).info("http.out"),
            "c00k1e-value",
            id="bound-header",
        ),
        pytest.param(
            lambda: logger.info("webhook.failed Authorization: Bearer opaque-t0ken-123"),
            "opaque-t0ken-123",
            id="bearer",
        ),
        pytest.param(lambda: logger.info("auth.rejected", detail=f"jwt {JWT}"), JWT, id="jwt"),
        pytest.param(lambda: logger.info(f"openai.error key {OPENAI_KEY}"), OPENAI_KEY, id="sk"),
        pytest.param(
            lambda: logger.info("apikey.used", note=f"prefix {GHOSTPEN_KEY}"),
            GHOSTPEN_KEY,
            id="gp",
        ),
        pytest.param(
            lambda: logger.info(f"webhook.signing with {WEBHOOK_SECRET}"),
            WEBHOOK_SECRET,
            id="whsec",
        ),
        pytest.param(
            lambda: logger.info("db.connect", dsn="postgresql+asyncpg://ghost:pg-s3cret@db/app"),
            "pg-s3cret",
            id="url-password",
        ),
        pytest.param(
            lambda: logger.info("login.failed with password=hunter2-free user=bob"),
            "hunter2-free",
            id="password-in-text",
        ),
        pytest.param(
            lambda: logging.getLogger("uvicorn.error").error('body {"password": "hunter2-json"}'),
            "hunter2-json",
            id="json-password-via-stdlib",
        ),
        pytest.param(
            lambda: logger.opt(exception=ValueError(f"bad key {GHOSTPEN_KEY}")).error("x.failed"),
            GHOSTPEN_KEY,
            id="exception-text",
        ),
    ],
)
def test_secrets_never_reach_the_output(
    output: io.StringIO, emit: Callable[[], None], secret: str
) -> None:
    emit()

    assert output.getvalue()
    assert secret not in output.getvalue()
    assert "***" in output.getvalue()


def test_url_keeps_user_and_host_when_password_is_masked(output: io.StringIO) -> None:
    logger.info("redis.connect", url="redis://default:r3dis-pw@cache:6379/0")

    assert lines(output)[0]["url"] == "redis://default:***@cache:6379/0"


def test_mask_keeps_structure_and_innocent_fields() -> None:
    masked = mask(
        {
            "job_id": "job-1",
            "usage": {"prompt_tokens": 120, "max_tokens": 400},
            "client": {"accessToken": "a", "refresh_token": "r", "keyboard": "qwerty"},
            "headers": [("authorization", "Bearer x")],
            "note": None,
        }
    )

    assert masked == {
        "job_id": "job-1",
        "usage": {"prompt_tokens": 120, "max_tokens": 400},
        "client": {"accessToken": "***", "refresh_token": "***", "keyboard": "qwerty"},
        "headers": [["authorization", "Bearer ***"]],
        "note": None,
    }


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("0f8fad5b-d9cb-469f-a165-70867728950e", True),
        ("gw.req_1", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("", False),
        (None, False),
        ("id\nX-Injected: 1", False),
        ("<script>", False),
    ],
)
def test_only_safe_request_ids_are_accepted(value: str | None, valid: bool) -> None:
    assert valid_request_id(value) is valid


def test_new_request_id_is_valid_and_unique() -> None:
    first, second = new_request_id(), new_request_id()

    assert first != second
    assert valid_request_id(first)
    assert len(first) == 32
