"""Error classification decides whether a generation job is retried, and when."""

import pickle
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx2
import openai
import pytest

from workers.providers import ProviderError, classify, parse_retry_after

URL = "https://api.openai.example/v1/chat/completions"


def status_error(
    status: int,
    *,
    code: str | None = None,
    message: str = "nope",
    headers: dict[str, str] | None = None,
) -> openai.APIStatusError:
    """The SDK's exception, with `body` as it passes it: the response's `error` object."""
    error = {"message": message, "type": "invalid_request_error", "code": code}
    response = httpx2.Response(
        status, headers=headers, json={"error": error}, request=httpx2.Request("POST", URL)
    )
    return openai.APIStatusError(f"Error code: {status}", response=response, body=error)


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        (400, "model_bad_request", False),
        (401, "model_auth_failed", False),
        (403, "model_forbidden", False),
        (404, "model_not_found", False),
        (408, "model_timeout", True),
        (409, "model_unavailable", True),
        (422, "model_bad_request", False),
        (429, "model_rate_limited", True),
        (500, "model_unavailable", True),
        (503, "model_unavailable", True),
    ],
)
def test_status_codes(status: int, code: str, retryable: bool) -> None:
    error = classify(status_error(status))

    assert (error.code, error.retryable, error.status) == (code, retryable, status)


@pytest.mark.parametrize("code", ["content_policy_violation", "content_filter"])
def test_content_policy_codes_are_permanent(code: str) -> None:
    error = classify(status_error(400, code=code))

    assert (error.code, error.retryable) == ("model_content_policy", False)


def test_transport_failures_are_retryable() -> None:
    request = httpx2.Request("POST", URL)

    timeout = classify(openai.APITimeoutError(request=request))
    connection = classify(openai.APIConnectionError(request=request))

    assert (timeout.code, timeout.retryable) == ("model_timeout", True)
    assert (connection.code, connection.retryable) == ("model_connection_error", True)


def test_unknown_failures_are_permanent() -> None:
    error = classify(RuntimeError("boom"))

    assert (error.code, error.retryable) == ("model_unavailable", False)


def test_a_provider_error_passes_through() -> None:
    original = ProviderError("model_empty_response", "nothing", retryable=True)

    assert classify(original) is original


def test_messages_keep_the_reason_but_never_keys() -> None:
    leaky = "Invalid header sk-proj-abcdef123456 (Bearer xyz.abc): max_tokens too large"

    error = classify(status_error(400, message=leaky))
    auth = classify(status_error(401, message="Incorrect API key provided: sk-ab***cd"))

    assert "max_tokens too large" in error.message
    assert "abcdef" not in error.message
    assert "xyz" not in error.message
    assert "sk-" not in auth.message


def test_retry_after_prefers_milliseconds() -> None:
    headers = httpx2.Headers({"Retry-After": "7", "Retry-After-Ms": "1500"})

    assert parse_retry_after(headers) == pytest.approx(1.5)


def test_retry_after_seconds_and_dates() -> None:
    soon = datetime.now(UTC) + timedelta(seconds=30)

    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after": format_datetime(soon, usegmt=True)}) == (
        pytest.approx(30, abs=2)
    )
    assert parse_retry_after({"retry-after": "Mon, 01 Jan 2001 00:00:00 GMT"}) == 0.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_retry_after_reaches_the_error() -> None:
    error = classify(status_error(429, headers={"retry-after-ms": "250"}))

    assert error.retry_after == pytest.approx(0.25)


def test_survives_pickling_for_arq_results() -> None:
    error = ProviderError("model_rate_limited", "slow down", retryable=True, retry_after=2.0)

    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes

    assert (copy.code, copy.message, copy.retryable, copy.retry_after) == (
        "model_rate_limited",
        "slow down",
        True,
        2.0,
    )
