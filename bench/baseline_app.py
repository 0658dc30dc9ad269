"""The baseline: a bare Litestar app with one ``POST /echo``, served like the gateway.

Same server (uvicorn, ``--workers``, no access log), same logging set-up from ``LOG_LEVEL`` and
``LOG_FORMAT``; no database, Redis, auth, tracing or middleware. It decodes the very body the
job benchmark sends, so the gap to ``POST /api/v1/jobs`` is what GhostPen adds per request.

Run: ``python -m bench.baseline_app --port 8100 --workers 2``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

import msgspec
import uvicorn
from litestar import Litestar, post

from shared.observability.logging import configure_logging


class EchoIn(msgspec.Struct):
    profile_id: str
    platform: str
    topic: str


class EchoOut(msgspec.Struct):
    profile_id: str
    platform: str
    topic: str
    status: str = "echoed"


@post("/echo", status_code=200)
async def echo(data: EchoIn) -> EchoOut:
    """Return the request's fields."""
    return EchoOut(profile_id=data.profile_id, platform=data.platform, topic=data.topic)


def create_app() -> Litestar:
    """Factory for ``uvicorn --factory`` (one per server process), like the gateway's."""
    configure_logging(
        level=os.environ.get("LOG_LEVEL", "warning").upper(),
        fmt="console" if os.environ.get("LOG_FORMAT") == "console" else "json",
        service="bench-baseline",
    )
    # Like the gateway: Litestar must not install its own logging config over ours.
    return Litestar(route_handlers=[echo], logging_config=None, debug=False)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline_app", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    # The same server options as `ghostpen gateway` (ghostpen/cli.py).
    uvicorn.run(
        "bench.baseline_app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=25,
    )


if __name__ == "__main__":
    main()
