"""A local OpenAI-compatible HTTP server for tests, benchmarks and chaos runs.

The real `openai` SDK talks to it over TCP, so timeouts, dropped connections, headers and
status codes go through the same code paths as in production. It serves
`POST /v1/chat/completions` (non-streaming) and `GET /v1/models`, checks
`Authorization: Bearer <key>`, records every `/v1` request and injects faults:

- scripted faults, consumed one per chat completion in order (`inject` or `POST /_control/faults`);
- a random fault rate (half 429 with Retry-After 1 s, half 500) and a base latency for successful
  completions (`configure` or `POST /_control/config`).

In-process: `with FakeOpenAI(api_keys=["sk-test"]) as fake: ...` (a background thread with its own
event loop, so sync and async tests can both use it). Standalone, driven over HTTP by another
process: `python -m tests.fakes.openai_server --port 8765 [--latency S] [--fault-rate R]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import itertools
import logging
import math
import random
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from datetime import UTC, datetime
from http import HTTPStatus
from types import TracebackType
from typing import Annotated, Any, Self

import msgspec
import uvicorn
from uvicorn.config import LOGGING_CONFIG

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DEFAULT_MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1")
_START_TIMEOUT = 10.0
_TOPIC_PATTERNS = (
    re.compile(r"<topic>(.+?)</topic>", re.IGNORECASE | re.DOTALL),
    re.compile(r"^\s*topic\s*:\s*(.+)$", re.IGNORECASE | re.MULTILINE),
    re.compile(r'"""(.+?)"""', re.DOTALL),
    re.compile(r"«(.+?)»", re.DOTALL),
)


class Fault(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One scripted misbehaviour; fields combine (a delay, then a status or a drop)."""

    status: int | None = None  # answer with this error status instead of a completion
    code: str | None = None  # `error.code` in the error body, e.g. "content_policy_violation"
    message: str | None = None
    retry_after: float | None = None  # sets `retry-after` (whole seconds) and `retry-after-ms`
    headers: dict[str, str] = {}  # raw extra headers; they win over `retry_after`
    delay: Annotated[float, msgspec.Meta(ge=0)] = 0.0  # seconds before answering
    drop: bool = False  # send response headers, then close the connection without a body
    content: str | None = None  # successful completion with exactly this text
    finish_reason: str | None = None  # successful completion with this finish_reason


class FakeConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    latency: Annotated[float, msgspec.Meta(ge=0)] = 0.0  # seconds added to each success
    fault_rate: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.0
    cached_fraction: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.5
    api_keys: frozenset[str] | None = None  # None accepts any non-empty bearer key
    seed: int | None = None  # for the random fault rate


class RecordedRequest(msgspec.Struct, frozen=True):
    at: datetime
    method: str
    path: str
    api_key: str | None
    status: int | None  # what the server answered; None for a dropped connection
    model: str | None = None
    messages: tuple[dict[str, Any], ...] = ()
    max_tokens: int | None = None


class _ChatBody(msgspec.Struct):
    model: str
    messages: list[dict[str, Any]]
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    stream: bool | None = None


class _State:
    """Everything the server and its controllers share; guarded because they run on two threads."""

    def __init__(self, config: FakeConfig) -> None:
        self._lock = threading.Lock()
        self._initial = config
        self._config = config
        self._faults: deque[Fault] = deque()
        self._requests: list[RecordedRequest] = []
        self._rng = random.Random(config.seed)
        self._ids = itertools.count(1)

    @property
    def config(self) -> FakeConfig:
        with self._lock:
            return self._config

    def configure(self, changes: Mapping[str, Any]) -> FakeConfig:
        with self._lock:
            merged = {**msgspec.structs.asdict(self._config), **changes}
            self._config = msgspec.convert(merged, FakeConfig)
            if "seed" in changes:
                self._rng = random.Random(self._config.seed)
            return self._config

    def inject(self, faults: Iterable[Fault]) -> int:
        with self._lock:
            self._faults.extend(faults)
            return len(self._faults)

    def next_fault(self) -> Fault | None:
        with self._lock:
            if self._faults:
                return self._faults.popleft()
            if self._rng.random() >= self._config.fault_rate:
                return None
            if self._rng.random() < 0.5:
                return Fault(status=429, retry_after=1.0)
            return Fault(status=500)

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def reset(self) -> None:
        with self._lock:
            self._config = self._initial
            self._faults.clear()
            self._requests.clear()
            self._rng = random.Random(self._initial.seed)


# Set while the app deliberately drops a connection, so uvicorn's complaint about the
# unfinished response is not logged as an error (see `_QuietDrops`).
_dropping: contextvars.ContextVar[bool] = contextvars.ContextVar("fake_openai_drop", default=False)


class _QuietDrops(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _dropping.get()


_QUIET_DROPS = _QuietDrops()


class _App:
    """The ASGI application: raw ASGI so that a fault can close the socket mid-response."""

    def __init__(self, state: _State) -> None:
        self.state = state
        self.stopping: asyncio.Event | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        method, path = scope["method"], scope["path"]
        if path.startswith("/_control/"):
            await self._control(method, path, body, send)
        elif (method, path) == ("POST", "/v1/chat/completions"):
            await self._chat(scope, body, receive, send)
        elif (method, path) == ("GET", "/v1/models"):
            await self._models(scope, send)
        else:
            if path.startswith("/v1/"):
                self._record(scope, 404)
            await _send_error(send, 404, f"Invalid URL ({method} {path})", code=None)

    async def _chat(self, scope: Scope, raw: bytes, receive: Receive, send: Send) -> None:
        if not await self._authorised(scope, send):
            return
        try:
            body = msgspec.json.decode(raw, type=_ChatBody)
        except msgspec.DecodeError as exc:
            self._record(scope, 400)
            await _send_error(send, 400, f"Invalid request body: {exc}", code=None)
            return
        limit = body.max_completion_tokens or body.max_tokens
        if body.stream:
            self._record(scope, 400, body.model, body.messages, limit)
            await _send_error(send, 400, "The fake server does not stream.", code=None)
            return
        fault = self.state.next_fault() or Fault()
        status = None if fault.drop else (fault.status or 200)
        self._record(scope, status, body.model, body.messages, limit)
        if not await self._pause(fault.delay, receive):
            return
        if fault.drop:
            await _drop(send)
        elif fault.status is not None:
            await _send_fault(send, fault)
        elif await self._pause(self.state.config.latency, receive):
            completion = _completion(
                body, limit, fault, self.state.next_id(), self.state.config.cached_fraction
            )
            await _send_json(send, 200, completion)

    async def _models(self, scope: Scope, send: Send) -> None:
        if not await self._authorised(scope, send):
            return
        self._record(scope, 200)
        created = int(time.time())
        models = [
            {"id": name, "object": "model", "created": created, "owned_by": "ghostpen-fake"}
            for name in DEFAULT_MODELS
        ]
        await _send_json(send, 200, {"object": "list", "data": models})

    async def _authorised(self, scope: Scope, send: Send) -> bool:
        key = _bearer(scope)
        accepted = self.state.config.api_keys
        if key and (accepted is None or key in accepted):
            return True
        self._record(scope, 401)
        shown = f"{key[:3]}***{key[-2:]}" if key else "none"
        await _send_error(
            send, 401, f"Incorrect API key provided: {shown}.", code="invalid_api_key"
        )
        return False

    async def _control(self, method: str, path: str, raw: bytes, send: Send) -> None:
        try:
            if (method, path) == ("POST", "/_control/faults"):
                faults = msgspec.json.decode(raw, type=list[Fault] | Fault)
                queued = self.state.inject(faults if isinstance(faults, list) else [faults])
                await _send_json(send, 200, {"queued": queued})
            elif (method, path) == ("POST", "/_control/config"):
                changes = msgspec.json.decode(raw or b"{}", type=dict[str, Any])
                await _send_json(send, 200, self.state.configure(changes))
            elif (method, path) == ("GET", "/_control/config"):
                await _send_json(send, 200, self.state.config)
            elif (method, path) == ("GET", "/_control/requests"):
                await _send_json(send, 200, self.state.requests())
            elif (method, path) == ("POST", "/_control/reset"):
                self.state.reset()
                await _send_json(send, 200, {"reset": True})
            else:
                await _send_error(send, 404, f"No control endpoint {method} {path}", code=None)
        except msgspec.MsgspecError as exc:
            await _send_error(send, 400, str(exc), code=None)

    async def _pause(self, seconds: float, receive: Receive) -> bool:
        """Wait, ending early if the server stops; False when the client hung up meanwhile."""
        if seconds <= 0:
            return True
        # The body is already read, so `receive` returns only when the client disconnects.
        disconnect = asyncio.ensure_future(receive())
        waiters: set[asyncio.Future[Any]] = {disconnect}
        if self.stopping is not None:
            waiters.add(asyncio.ensure_future(self.stopping.wait()))
        done, pending = await asyncio.wait(
            waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED
        )
        for waiter in pending:
            waiter.cancel()
        return disconnect not in done

    def _record(
        self,
        scope: Scope,
        status: int | None,
        model: str | None = None,
        messages: Sequence[dict[str, Any]] = (),
        max_tokens: int | None = None,
    ) -> None:
        self.state.record(
            RecordedRequest(
                at=datetime.now(UTC),
                method=scope["method"],
                path=scope["path"],
                api_key=_bearer(scope),
                status=status,
                model=model,
                messages=tuple(messages),
                max_tokens=max_tokens,
            )
        )


class FakeOpenAI:
    """Runs the fake server; `start()`/`stop()` or a `with` block, from sync or async code."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_keys: Iterable[str] | None = None,
        latency: float = 0.0,
        fault_rate: float = 0.0,
        cached_fraction: float = 0.5,
        seed: int | None = None,
    ) -> None:
        config = msgspec.convert(
            {
                "latency": latency,
                "fault_rate": fault_rate,
                "cached_fraction": cached_fraction,
                "api_keys": None if api_keys is None else list(api_keys),
                "seed": seed,
            },
            FakeConfig,
        )
        self._host = host
        self._port = port
        self._state = _State(config)
        self._app = _App(self._state)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        """Server root, where `/_control/...` lives."""
        return f"http://{self._host}:{self._port}"

    @property
    def base_url(self) -> str:
        """What to pass to `openai.AsyncOpenAI(base_url=...)`."""
        return f"{self.url}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every `/v1` request so far, oldest first."""
        return self._state.requests()

    @property
    def config(self) -> FakeConfig:
        return self._state.config

    def inject(self, *faults: Fault | Mapping[str, Any]) -> None:
        """Queue faults for the next chat completions, e.g. `inject({"status": 429})`."""
        self._state.inject(
            fault if isinstance(fault, Fault) else msgspec.convert(fault, Fault) for fault in faults
        )

    def configure(self, **changes: Any) -> FakeConfig:
        """Change any `FakeConfig` field; unchanged fields keep their values."""
        if "api_keys" in changes and changes["api_keys"] is not None:
            changes["api_keys"] = list(changes["api_keys"])
        return self._state.configure(changes)

    def set_latency(self, seconds: float) -> None:
        self.configure(latency=seconds)

    def set_fault_rate(self, rate: float) -> None:
        self.configure(fault_rate=rate)

    def reset(self) -> None:
        """Forget requests and queued faults and restore the constructor's settings."""
        self._state.reset()

    def start(self) -> Self:
        """Serve on a background thread; returns once the port accepts connections."""
        if self._thread is not None:
            raise RuntimeError("FakeOpenAI is already running")
        sock = self._bind()
        self._server = uvicorn.Server(self._uvicorn_config(log_config=None))
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._serve(sock),), name="fake-openai", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self._thread = None
                sock.close()
                raise RuntimeError("FakeOpenAI did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Finish in-flight requests at once and close every connection."""
        if self._thread is None or self._server is None:
            return
        loop, stopping = self._loop, self._app.stopping
        if loop is not None and stopping is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stopping.set)
        self._server.should_exit = True
        self._thread.join(timeout=_START_TIMEOUT)
        self._thread = None

    def serve_forever(self) -> None:
        """Serve in the foreground until SIGINT or SIGTERM (the command-line mode)."""
        sock = self._bind()
        self._server = uvicorn.Server(self._uvicorn_config(log_config=LOGGING_CONFIG))
        logging.getLogger("uvicorn.error").info(
            "Fake OpenAI on %s (control API at %s/_control/)", self.base_url, self.url
        )
        with contextlib.suppress(KeyboardInterrupt):  # uvicorn re-raises the Ctrl-C it handled
            asyncio.run(self._serve(sock))

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _bind(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self._host, self._port))
        except OSError:
            sock.close()
            raise
        self._port = sock.getsockname()[1]
        return sock

    def _uvicorn_config(self, log_config: dict[str, Any] | None) -> uvicorn.Config:
        logging.getLogger("uvicorn.error").addFilter(_QUIET_DROPS)
        return uvicorn.Config(
            self._app,
            interface="asgi3",
            lifespan="off",
            ws="none",
            log_config=log_config,
            access_log=False,
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=2,
        )

    async def _serve(self, sock: socket.socket) -> None:
        assert self._server is not None
        self._loop = asyncio.get_running_loop()
        self._app.stopping = asyncio.Event()
        try:
            await self._server.serve(sockets=[sock])
        finally:
            sock.close()


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body", False):
            return b"".join(chunks)


def _bearer(scope: Scope) -> str | None:
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    value = next((value for name, value in headers if name == b"authorization"), b"")
    scheme, _, token = value.decode("latin-1").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def _completion(
    body: _ChatBody, limit: int | None, fault: Fault, number: int, cached_fraction: float
) -> dict[str, Any]:
    text, finish_reason = _compose(body.messages, limit)
    if fault.content is not None:
        text = fault.content
    content: str | None = text
    if fault.finish_reason is not None:
        finish_reason = fault.finish_reason
        if finish_reason == "content_filter" and fault.content is None:
            content = None
    prompt_tokens = sum(_tokens(_text(message)) + 4 for message in body.messages) + 3
    completion_tokens = _tokens(content or "")
    return {
        "id": f"chatcmpl-fake{number:08d}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.model,
        "system_fingerprint": "fp_ghostpen_fake",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "finish_reason": finish_reason,
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {
                "cached_tokens": math.floor(prompt_tokens * cached_fraction),
                "audio_tokens": 0,
            },
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
        },
    }


def _compose(messages: Sequence[dict[str, Any]], limit: int | None) -> tuple[str, str]:
    """A short post about the topic of the last user message, cut to `limit` tokens."""
    prompt = next(
        (_text(message) for message in reversed(messages) if message.get("role") == "user"), ""
    )
    topic = _topic(prompt)
    tag = "#" + "".join(word.capitalize() for word in re.findall(r"\w+", topic)[:3])
    text = (
        f"{topic[:1].upper()}{topic[1:]}: most of us overcomplicate it.\n\n"
        f"I spent a month taking {topic} seriously, and the lesson was simple: start small, "
        "ship, then listen.\n\n"
        f"What has worked for you? {tag}"
    )
    if limit is None or _tokens(text) <= limit:
        return text, "stop"
    cut = text[: max(limit, 0) * 4]
    return cut.rsplit(" ", 1)[0] if " " in cut else cut, "length"


def _topic(prompt: str) -> str:
    for pattern in _TOPIC_PATTERNS:
        found = pattern.search(prompt)
        if found:
            return " ".join(found.group(1).split())[:80]
    words = prompt.split()
    return " ".join(words[:8]).rstrip(".!?:;,") or "this"


def _text(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


async def _send_fault(send: Send, fault: Fault) -> None:
    status = fault.status or 500
    headers: dict[str, str] = {}
    if fault.retry_after is not None:
        headers["retry-after"] = str(math.ceil(fault.retry_after))
        headers["retry-after-ms"] = str(round(fault.retry_after * 1000))
    headers.update({name.lower(): value for name, value in fault.headers.items()})
    await _send_error(
        send,
        status,
        fault.message or _default_message(status, fault.code),
        code=fault.code or _default_code(status),
        headers=headers,
    )


def _default_code(status: int) -> str | None:
    return {429: "rate_limit_exceeded", 404: "model_not_found"}.get(status)


def _default_message(status: int, code: str | None) -> str:
    if code in {"content_policy_violation", "content_filter"}:
        return "Your request was rejected as a result of our safety system."
    if status == 429:
        return "Rate limit reached for requests. Please try again later."
    if status >= 500:
        return "The server had an error while processing your request."
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def _send_error(
    send: Send,
    status: int,
    message: str,
    *,
    code: str | None,
    headers: Mapping[str, str] | None = None,
) -> None:
    if status == 429:
        kind = "requests"
    elif status >= 500:
        kind = "server_error"
    else:
        kind = "invalid_request_error"
    error = {"message": message, "type": kind, "param": None, "code": code}
    await _send_json(send, status, {"error": error}, headers)


async def _send_json(
    send: Send, status: int, payload: object, headers: Mapping[str, str] | None = None
) -> None:
    body = msgspec.json.encode(payload)
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", f"req_fake_{time.monotonic_ns():x}".encode()),
        *(
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in (headers or {}).items()
        ),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


async def _drop(send: Send) -> None:
    """Promise a body, then return without it: uvicorn closes the connection mid-response."""
    _dropping.set(True)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"1024")],
        }
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.openai_server",
        description="Run the fake OpenAI server in the foreground.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (logged)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per completion")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="0..1, half 429, half 500")
    parser.add_argument("--cached-fraction", type=float, default=0.5)
    parser.add_argument(
        "--api-key", action="append", dest="api_keys", help="accept only these (repeatable)"
    )
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    FakeOpenAI(
        host=args.host,
        port=args.port,
        api_keys=args.api_keys,
        latency=args.latency,
        fault_rate=args.fault_rate,
        cached_fraction=args.cached_fraction,
        seed=args.seed,
    ).serve_forever()


if __name__ == "__main__":
    main()
