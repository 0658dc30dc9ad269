"""Batches, schedules, webhooks and idempotency with the platform run as operators run it:
two gateways and two ARQ workers as processes, the fake model over HTTP and a real webhook
receiver that fails every message's first two tries on purpose.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from shared.clock import utcnow
from tests.factories import ENGLISH_SAMPLES
from tests.fakes.openai_server import FakeOpenAI
from tests.support.processes import Platform, run_platform, sign_up
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def platform(
    fake_openai: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    with run_platform(
        fake_openai, tmp_path_factory.mktemp("flows-logs"), gateways=2, workers=2
    ) as running:
        yield running


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(fail_first=2) as server:
        yield server


def _wait_until(condition: object, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_batch_schedule_and_webhooks_across_two_gateways_and_two_workers(
    platform: Platform, receiver: WebhookReceiver
) -> None:
    first, second = (
        httpx.Client(base_url=f"{url}/api/v1", timeout=70) for url in platform.gateway_urls
    )
    with first, second:
        headers = sign_up(first, "flows@example.com")
        profile = first.post(
            "/profiles", json={"name": "Ada", "samples": ENGLISH_SAMPLES}, headers=headers
        ).json()
        account_secret = first.get("/webhook-secret", headers=headers).json()["secret"]
        endpoint = second.post(
            "/webhook-endpoints",
            json={"url": f"{receiver.url}/endpoint", "events": ["job.succeeded"]},
            headers=headers,
        )
        assert endpoint.status_code == 201, endpoint.text
        endpoint_secret = endpoint.json()["secret"]

        # Idempotency across gateways: the retry on the other gateway replays the first answer.
        body = {"profile_id": profile["id"], "platform": "x", "topic": "idempotent launch"}
        keyed = {**headers, "Idempotency-Key": "e2e-launch-1"}
        original = first.post("/jobs", json=body, headers=keyed)
        replayed = second.post("/jobs", json=body, headers=keyed)
        assert original.status_code == replayed.status_code == 202
        assert replayed.json()["id"] == original.json()["id"]
        changed = second.post("/jobs", json={**body, "topic": "other"}, headers=keyed)
        assert changed.status_code == 409
        assert changed.json()["code"] == "idempotency_conflict"

        items = [
            {
                "custom_id": f"post-{n}",
                "profile_id": profile["id"],
                "platform": "linkedin",
                "topic": f"lesson {n} from our launch",
            }
            for n in range(12)
        ]
        batch = first.post(
            "/batches",
            json={"items": items, "webhook_url": f"{receiver.url}/batch"},
            headers=headers,
        )
        assert batch.status_code == 202, batch.text
        batch_id = batch.json()["id"]

        run_at = (utcnow() + timedelta(seconds=2)).isoformat()
        schedule = second.post(
            "/schedules",
            json={
                "profile_id": profile["id"],
                "platform": "telegram",
                "topics": ["weekly digest"],
                "run_at": run_at,
                "timezone": "Europe/Berlin",
            },
            headers=headers,
        )
        assert schedule.status_code == 201, schedule.text
        schedule_id = schedule.json()["id"]

        done = second.get(f"/batches/{batch_id}", params={"wait": 60}, headers=headers).json()
        assert done["status"] == "completed", done
        assert done["counts"]["total"] == done["counts"]["succeeded"] == 12
        results = first.get(f"/batches/{batch_id}/results", headers=headers)
        lines = [json.loads(line) for line in results.text.splitlines()]
        assert sorted(line["custom_id"] for line in lines) == sorted(i["custom_id"] for i in items)
        assert all(line["status"] == "succeeded" and line["result"]["text"] for line in lines)

        def schedule_fired() -> bool:
            page = first.get("/jobs", params={"schedule_id": schedule_id}, headers=headers)
            return any(job["status"] == "succeeded" for job in page.json()["data"])

        _wait_until(schedule_fired)
        assert (
            len(
                first.get("/jobs", params={"schedule_id": schedule_id}, headers=headers).json()[
                    "data"
                ]
            )
            == 1
        )

        # Every job.succeeded event reaches the endpoint after two failed tries, under one id.
        job_ids = {line["job_id"] for line in lines} | {original.json()["id"]}
        _wait_until(lambda: len(receiver.delivered("/endpoint")) >= len(job_ids) + 1)
        _wait_until(lambda: len(receiver.delivered("/batch")) == 1)

    verify_endpoint = Webhook(endpoint_secret)
    delivered_jobs = set()
    for request in receiver.delivered("/endpoint"):
        event = verify_endpoint.verify(request.body, request.headers)
        assert event["type"] == "job.succeeded"
        delivered_jobs.add(event["data"]["job"]["id"])
        tries = [
            r
            for r in receiver.tries("/endpoint")
            if r.headers["webhook-id"] == request.headers["webhook-id"]
        ]
        assert [r.answered for r in tries] == [500, 500, 204]
    assert job_ids <= delivered_jobs
    ids = [r.headers["webhook-id"] for r in receiver.delivered("/endpoint")]
    assert len(ids) == len(set(ids)), "each event is delivered once after its retries"

    (batch_event,) = receiver.delivered("/batch")
    payload = Webhook(account_secret).verify(batch_event.body, batch_event.headers)
    assert payload["type"] == "batch.completed"
    assert payload["data"]["batch"]["id"] == batch_id
    assert len({r.headers["webhook-id"] for r in receiver.tries("/batch")}) == 1
