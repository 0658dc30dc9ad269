"""The dependency audit tells "could not ask" from "asked": without an answer from the
vulnerability service it warns loudly and passes, or fails with AUDIT_REQUIRED=1; with one,
pip-audit decides. The service is a local HTTP server here."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ghostpen.embedded import free_port
from scripts.audit_dependencies import LOCK_FILES, first_pin, main, unreachable

RELEASE = json.dumps({"info": {"name": "alembic"}, "vulnerabilities": []}).encode()


@contextlib.contextmanager
def service(status: int, body: bytes) -> Iterator[str]:
    """A stand-in for the PyPI JSON API answering every release with ``status`` and ``body``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            del format, args

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/pypi"
    finally:
        server.shutdown()
        server.server_close()


def test_the_probe_asks_about_a_locked_release() -> None:
    name, version = first_pin(LOCK_FILES[0])
    assert f"\n{name}=={version} \\\n" in LOCK_FILES[0].read_text()


def test_a_service_with_release_data_answers() -> None:
    with service(200, RELEASE) as url:
        assert unreachable(url, "alembic", "1.20.1") is None


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (404, b"", "HTTP 404"),  # a package mirror without the JSON API
        (200, b"<html>captive portal</html>", "not JSON"),
        (200, b'{"message": "hello"}', "no release data"),
        (503, RELEASE, "HTTP 503"),
    ],
)
def test_answers_without_release_data_do_not_count(status: int, body: bytes, reason: str) -> None:
    with service(status, body) as url:
        found = unreachable(url, "alembic", "1.20.1")
    assert found is not None
    assert "/alembic/1.20.1/json" in found
    assert reason in found


def test_without_the_service_the_audit_warns_and_passes(capsys: pytest.CaptureFixture[str]) -> None:
    nobody = f"http://127.0.0.1:{free_port()}/pypi"
    assert main([], {}, service=nobody) == 0
    warning = capsys.readouterr().err
    assert "WARNING: dependency audit NOT RUN" in warning
    assert "ConnectError" in warning
    assert "requirements.lock, requirements-dev.lock were not checked" in warning


def test_without_the_service_a_required_audit_fails(capsys: pytest.CaptureFixture[str]) -> None:
    with service(404, b"") as url:
        assert main([], {"AUDIT_REQUIRED": "1"}, service=url) == 2
    assert "ERROR (AUDIT_REQUIRED=1): dependency audit NOT RUN" in capsys.readouterr().err
