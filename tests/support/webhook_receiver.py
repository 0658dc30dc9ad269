"""A real HTTP webhook receiver on 127.0.0.1 that records every request and can fail on
purpose (the first N tries of each message), for tests that run the platform as processes."""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int


class WebhookReceiver:
    """``fail_first`` tries of every ``webhook-id`` are answered 500, then 204; with a
    ``fail_rate``, that share of the other tries is answered 500 too (seeded, so repeatable)."""

    def __init__(self, *, fail_first: int = 0, fail_rate: float = 0.0, seed: int = 0) -> None:
        self.fail_first = fail_first
        self.fail_rate = fail_rate
        self._random = random.Random(seed)
        self.received: list[Received] = []
        self._tries: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _answer(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            message_id = headers.get("webhook-id", "")
            self._tries[message_id] += 1
            failing = self._tries[message_id] <= self.fail_first
            status = 500 if failing or self._random.random() < self.fail_rate else 204
            self.received.append(Received(path, headers, body, status))
            return status

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                if len(body) < length:
                    # The sender went away mid-request (a worker SIGKILLed while delivering):
                    # nothing was delivered, and there is nobody left to answer.
                    self.close_connection = True
                    return
                headers = {key.lower(): value for key, value in self.headers.items()}
                self.send_response(receiver._answer(self.path, headers, body))
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        return Handler

    def delivered(self, path: str) -> list[Received]:
        """Requests to ``path`` that were answered with success."""
        with self._lock:
            return [r for r in self.received if r.path == path and r.answered < 300]

    def tries(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
