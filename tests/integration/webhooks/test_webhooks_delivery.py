"""Webhook delivery to a real HTTP receiver, through the real gateway and ARQ worker."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
import msgspec
import pytest
from arq import Retry
from arq.constants import in_progress_key_prefix, job_key_prefix
from arq.worker import Worker
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import update
from standardwebhooks.webhooks import Webhook

from shared.clock import utcnow
from shared.db.engine import Database
from shared.queue.tasks import WebhookDeliverPayload
from shared.webhooks import service
from shared.webhooks.models import WebhookDelivery
from shared.webhooks.schemas import NewEvent
from tests.factories import create_profile, submit_job, wait_for_job
from workers import webhooks
from workers.context import WorkerDeps, deps_of

API = "/api/v1"
Reply = int | str  # an HTTP status, or "hang"


@dataclasses.dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """A tiny HTTP/1.1 server that records requests and answers as scripted (200 by default)."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.replies: list[Reply] = []
        self.url = ""
        self._arrived = asyncio.Condition()
        self._closing = asyncio.Event()
        self._server: asyncio.Server | None = None

    def reply(self, *replies: Reply) -> None:
        """Answer the next requests with these, in order."""
        self.replies.extend(replies)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        self._closing.set()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def wait_for(self, count: int, seconds: float = 30) -> list[Received]:
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: len(self.requests) >= count), seconds
            )
        return self.requests

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            request_line, *lines = head.strip().split("\r\n")
            headers = {
                name.strip().lower(): value.strip()
                for name, value in (line.split(":", 1) for line in lines)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            reply = self.replies.pop(0) if self.replies else 200
            async with self._arrived:
                self.requests.append(Received(request_line.split(" ")[1], headers, body))
                self._arrived.notify_all()
            if reply == "hang":
                await self._closing.wait()
                return
            extra = "Location: http://127.0.0.1:1/elsewhere\r\n" if 300 <= int(reply) < 400 else ""
            text = f"reply {reply}".encode()
            writer.write(
                f"HTTP/1.1 {reply} Scripted\r\nContent-Length: {len(text)}\r\n{extra}"
                "Connection: close\r\n\r\n".encode()
                + text
            )
            await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


async def poll(check: Callable[[], Awaitable[Any]], seconds: float = 30) -> Any:
    """Call ``check`` until it returns something truthy (generous deadline for slow CI)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        result = await check()
        if result:
            return result
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def deliveries(
    api: httpx.AsyncClient, headers: dict[str, str], path: str = f"{API}/webhook-deliveries"
) -> list[dict[str, Any]]:
    response = await api.get(path, headers=headers)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def settled(
    api: httpx.AsyncClient, headers: dict[str, str], count: int = 1
) -> list[dict[str, Any]]:
    """The user's deliveries once ``count`` of them exist and none is pending any more."""

    async def check() -> list[dict[str, Any]] | None:
        found = await deliveries(api, headers)
        done = len(found) >= count and all(d["status"] != "pending" for d in found)
        return found if done else None

    result: list[dict[str, Any]] = await poll(check)
    return result


async def create_endpoint(
    api: httpx.AsyncClient, headers: dict[str, str], url: str, events: list[str]
) -> dict[str, Any]:
    response = await api.post(
        f"{API}/webhook-endpoints", json={"url": url, "events": events}, headers=headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def run_job(api: httpx.AsyncClient, headers: dict[str, str], **fields: Any) -> str:
    profile = await create_profile(api, headers)
    submitted = await submit_job(api, headers, profile["id"], **fields)
    assert submitted.status_code == 202, submitted.text
    job_id: str = submitted.json()["id"]
    assert (await wait_for_job(api, headers, job_id))["status"] == "succeeded"
    return job_id


async def record_event_unsent(uow_factory: Any, user_id: str, **fields: Any) -> None:
    """Record an event and its deliveries but commit past the outbox: nothing is queued.

    Stands for a queue message that was lost, and lets a test run the task itself.
    """
    event = NewEvent(
        user_id=user_id, type="job.succeeded", subject_id="job_x", data={"job": {"id": "job_x"}}
    )
    async with uow_factory() as uow:
        await service.emit(uow, [msgspec.structs.replace(event, **fields)])
        await uow.session.commit()


def strict_deps(worker: Worker, **settings: Any) -> WorkerDeps:
    deps = deps_of(worker.ctx)
    return dataclasses.replace(deps, settings=msgspec.structs.replace(deps.settings, **settings))


async def test_job_webhook_url_gets_a_signed_job_succeeded(
    api: httpx.AsyncClient,
    make_user: Any,
    worker: Worker,
    receiver: Receiver,
    span_exporter: InMemorySpanExporter,
) -> None:
    user = await make_user()
    job_id = await run_job(api, user.headers, webhook_url=f"{receiver.url}/hooks/job")
    (request,) = await receiver.wait_for(1)
    # The account secret was made by the worker on first use; the API shows the same one.
    secret = (await api.get(f"{API}/webhook-secret", headers=user.headers)).json()["secret"]
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload["type"] == "job.succeeded"
    assert payload["id"] == request.headers["webhook-id"]
    assert payload["id"].startswith("msg_")
    assert payload["data"]["job"]["id"] == job_id
    assert payload["data"]["job"]["status"] == "succeeded"
    assert payload["data"]["job"]["result"]["text"]
    assert request.path == "/hooks/job"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("GhostPen-Webhooks/")

    (delivery,) = await settled(api, user.headers)
    assert delivery["status"] == "succeeded"
    assert delivery["endpoint_id"] is None
    assert delivery["event_id"] == payload["id"]
    assert delivery["subject_id"] == job_id
    assert [a["status_code"] for a in delivery["attempts"]] == [200]
    # The delivery continues the job's trace.
    spans = span_exporter.get_finished_spans()
    (generation,) = [
        s for s in spans if s.name == "generation.run" and s.attributes["ghostpen.job_id"] == job_id
    ]
    (sent,) = [
        s
        for s in spans
        if s.name == "webhook.deliver" and s.attributes["ghostpen.subject_id"] == job_id
    ]
    assert sent.context.trace_id == generation.context.trace_id


async def test_endpoint_gets_only_the_events_it_subscribed_to(
    api: httpx.AsyncClient, make_user: Any, worker: Worker, receiver: Receiver
) -> None:
    user = await make_user()
    failed_only = await create_endpoint(api, user.headers, f"{receiver.url}/failed", ["job.failed"])
    succeeded = await create_endpoint(
        api, user.headers, f"{receiver.url}/succeeded", ["job.succeeded", "job.canceled"]
    )
    job_id = await run_job(api, user.headers)
    (request,) = await receiver.wait_for(1)
    assert request.path == "/succeeded"
    assert Webhook(succeeded["secret"]).verify(request.body, request.headers)["type"] == (
        "job.succeeded"
    )
    (delivery,) = await settled(api, user.headers)
    assert delivery["endpoint_id"] == succeeded["id"]
    assert delivery["subject_id"] == job_id
    none = await deliveries(
        api, user.headers, f"{API}/webhook-endpoints/{failed_only['id']}/deliveries"
    )
    assert none == []
    assert len(receiver.requests) == 1


async def test_failing_receiver_is_retried_with_the_same_webhook_id(
    api: httpx.AsyncClient, make_user: Any, worker: Worker, receiver: Receiver
) -> None:
    user = await make_user()
    endpoint = await create_endpoint(api, user.headers, f"{receiver.url}/", ["job.succeeded"])
    receiver.reply(500, 503, 500)
    await run_job(api, user.headers)
    requests = await receiver.wait_for(4)
    assert len({r.headers["webhook-id"] for r in requests}) == 1
    assert {r.body for r in requests} == {requests[0].body}
    timestamps = [int(r.headers["webhook-timestamp"]) for r in requests]
    # The retries are 0.2 + 0.4 + 0.6 s (±10 %) apart: more than a second in all.
    assert timestamps == sorted(timestamps)
    assert timestamps[-1] > timestamps[0]
    for request in requests:  # each attempt is signed for its own timestamp
        Webhook(endpoint["secret"]).verify(request.body, request.headers)

    (delivery,) = await settled(api, user.headers)
    listed = await deliveries(
        api, user.headers, f"{API}/webhook-endpoints/{endpoint['id']}/deliveries"
    )
    assert listed == [delivery]
    assert delivery["status"] == "succeeded"
    assert delivery["attempt_count"] == 4
    assert [a["number"] for a in delivery["attempts"]] == [1, 2, 3, 4]
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 503, 500, 200]
    assert all(a["latency_ms"] >= 0 for a in delivery["attempts"])
    assert delivery["attempts"][1]["error"] == "HTTP 503"
    assert delivery["attempts"][1]["response_snippet"] == "reply 503"


async def test_gone_disables_the_endpoint(
    api: httpx.AsyncClient, make_user: Any, worker: Worker, receiver: Receiver
) -> None:
    user = await make_user()
    endpoint = await create_endpoint(api, user.headers, receiver.url, ["job.succeeded"])
    receiver.reply(410)
    await run_job(api, user.headers)
    (delivery,) = await settled(api, user.headers)
    assert delivery["status"] == "failed"
    assert [a["status_code"] for a in delivery["attempts"]] == [410]
    path = f"{API}/webhook-endpoints/{endpoint['id']}"
    disabled = (await api.get(path, headers=user.headers)).json()
    assert disabled["enabled"] is False
    assert disabled["disabled_reason"] == "410 Gone from endpoint"
    assert len(receiver.requests) == 1

    retried = await api.post(
        f"{API}/webhook-deliveries/{delivery['id']}/retry", headers=user.headers
    )
    assert retried.status_code == 409  # re-enable first
    enabled = await api.patch(path, json={"enabled": True}, headers=user.headers)
    assert enabled.json()["enabled"] is True
    assert enabled.json()["disabled_at"] is None


async def test_manual_retry_replays_the_same_message(
    api: httpx.AsyncClient, make_user: Any, worker: Worker, receiver: Receiver
) -> None:
    user = await make_user()
    receiver.reply(410)  # a per-request URL has no endpoint to disable: the delivery fails
    await run_job(api, user.headers, webhook_url=receiver.url)
    (failed,) = await settled(api, user.headers)
    assert failed["status"] == "failed"

    retried = await api.post(f"{API}/webhook-deliveries/{failed['id']}/retry", headers=user.headers)
    assert retried.status_code == 202, retried.text
    assert retried.json()["status"] == "pending"
    assert retried.json()["round"] == 1
    first, second = await receiver.wait_for(2)
    assert second.headers["webhook-id"] == first.headers["webhook-id"]
    assert second.body == first.body
    (delivery,) = await settled(api, user.headers)
    assert delivery["status"] == "succeeded"
    assert [a["status_code"] for a in delivery["attempts"]] == [410, 200]
    again = await api.get(f"{API}/webhook-deliveries/{delivery['id']}", headers=user.headers)
    assert again.json() == delivery


async def test_redirect_is_not_followed(
    api: httpx.AsyncClient, make_user: Any, worker: Worker, receiver: Receiver
) -> None:
    user = await make_user()
    receiver.reply(302, 302, 302, 302)
    await run_job(api, user.headers, webhook_url=receiver.url)
    (delivery,) = await settled(api, user.headers)
    assert delivery["status"] == "failed"  # the whole retry schedule got a redirect
    assert [a["status_code"] for a in delivery["attempts"]] == [302] * 4
    assert "redirect not followed" in delivery["last_error"]
    assert all(r.path == "/" for r in receiver.requests)
    assert len(receiver.requests) == 4


async def test_rotated_secret_signs_alongside_the_new_one(
    api: httpx.AsyncClient, make_user: Any, worker: Worker, receiver: Receiver
) -> None:
    user = await make_user()
    endpoint = await create_endpoint(api, user.headers, receiver.url, ["job.succeeded"])
    rotated = await api.post(
        f"{API}/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=user.headers
    )
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret != endpoint["secret"]
    assert rotated.json()["previous_secret_expires_at"] > endpoint["created_at"]
    await run_job(api, user.headers)
    (request,) = await receiver.wait_for(1)
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(new_secret).verify(request.body, request.headers)
    Webhook(endpoint["secret"]).verify(request.body, request.headers)


async def test_loopback_destination_is_refused_at_delivery_time(
    api: httpx.AsyncClient,
    make_user: Any,
    worker: Worker,
    receiver: Receiver,
    uow_factory: Any,
) -> None:
    user = await make_user()
    port = receiver.url.rsplit(":", 1)[1]
    await record_event_unsent(uow_factory, user.user_id, webhook_url=f"http://localhost:{port}/")
    (pending,) = await deliveries(api, user.headers)

    deps = strict_deps(worker, webhook_allow_private_networks=False)
    status = await webhooks.deliver(deps, WebhookDeliverPayload(delivery_id=pending["id"], round=0))
    assert status == "failed"  # permanent: no retry
    assert receiver.requests == []
    (delivery,) = await deliveries(api, user.headers)
    assert delivery["status"] == "failed"
    (attempt,) = delivery["attempts"]
    assert attempt["status_code"] is None
    assert "must not point to this machine" in attempt["error"]


@pytest.mark.parametrize(
    "url", ["http://0251.0376.0251.0376/", "http://①②⑦.⓪.⓪.①:1/", "http://0135.0270.0330.042/hook"]
)
async def test_a_stored_url_the_sender_cannot_parse_fails_the_delivery(
    api: httpx.AsyncClient, make_user: Any, worker: Worker, uow_factory: Any, url: str
) -> None:
    """Such URLs were accepted once; each attempt crashed the task and the sweeper re-sent the
    delivery forever, still pending with no attempt recorded."""
    user = await make_user()
    await record_event_unsent(uow_factory, user.user_id, webhook_url=url)
    (pending,) = await deliveries(api, user.headers)

    payload = WebhookDeliverPayload(delivery_id=pending["id"], round=0)
    assert await webhooks.deliver(deps_of(worker.ctx), payload) == "failed"  # permanent
    (delivery,) = await deliveries(api, user.headers)
    assert delivery["status"] == "failed"
    assert delivery["next_attempt_at"] is None
    (attempt,) = delivery["attempts"]
    assert attempt["status_code"] is None
    assert attempt["error"].startswith("not a valid URL")


async def test_hanging_receiver_times_out_and_is_retried(
    api: httpx.AsyncClient,
    make_user: Any,
    worker: Worker,
    receiver: Receiver,
    uow_factory: Any,
) -> None:
    user = await make_user()
    receiver.reply("hang")
    await record_event_unsent(uow_factory, user.user_id, webhook_url=receiver.url)
    (pending,) = await deliveries(api, user.headers)

    deps = strict_deps(worker, webhook_timeout=0.5)
    with pytest.raises(Retry):
        await webhooks.deliver(deps, WebhookDeliverPayload(delivery_id=pending["id"], round=0))
    (delivery,) = await deliveries(api, user.headers)
    assert delivery["status"] == "pending"
    assert delivery["next_attempt_at"] is not None
    (attempt,) = delivery["attempts"]
    assert attempt["error"] == "timed out after 0.5 s"
    assert attempt["status_code"] is None


async def test_sweeper_resends_a_delivery_whose_message_was_lost(
    api: httpx.AsyncClient,
    make_user: Any,
    worker: Worker,
    receiver: Receiver,
    uow_factory: Any,
    db: Database,
) -> None:
    user = await make_user()
    await record_event_unsent(uow_factory, user.user_id, webhook_url=receiver.url)
    deps = deps_of(worker.ctx)
    assert await webhooks.sweep(deps) == 0  # not overdue yet
    async with db.sessions() as session:
        await session.execute(
            update(WebhookDelivery).values(next_attempt_at=utcnow() - timedelta(minutes=5))
        )
        await session.commit()
    assert await webhooks.sweep(deps) == 1
    assert await webhooks.sweep(deps) == 0  # due again only if the queue does not deliver
    await receiver.wait_for(1)
    (delivery,) = await settled(api, user.headers)
    assert delivery["status"] == "succeeded"


async def test_sweeper_releases_a_delivery_a_dead_worker_holds(
    api: httpx.AsyncClient,
    make_user: Any,
    worker: Worker,
    receiver: Receiver,
    uow_factory: Any,
    db: Database,
) -> None:
    """Found by the chaos suite: a worker killed during an attempt left its message marked in
    progress, and ARQ would not run it again before its longest job timeout (310 s)."""
    user = await make_user()
    await record_event_unsent(uow_factory, user.user_id, webhook_url=receiver.url)
    (pending,) = await deliveries(api, user.headers)
    deps = deps_of(worker.ctx)
    queue_id = service.delivery_queue_id(pending["id"], 0)
    async with db.sessions() as session:
        await session.execute(
            update(WebhookDelivery).values(next_attempt_at=utcnow() - timedelta(minutes=5))
        )
        await session.commit()
    # The dead worker's message: present, marked in progress, never to finish.
    await deps.redis.set(job_key_prefix + queue_id, b"message")
    await deps.redis.set(in_progress_key_prefix + queue_id, b"1")
    try:
        assert await webhooks.sweep(deps) == 1

        assert not await deps.redis.exists(in_progress_key_prefix + queue_id)
        assert await deps.redis.exists(job_key_prefix + queue_id)  # ARQ runs this one again
    finally:
        await deps.redis.delete(job_key_prefix + queue_id, in_progress_key_prefix + queue_id)
