"""``ghostpen``: one console script for every process the platform runs."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import getpass
import os
import ssl
import sys
from collections.abc import Sequence

from shared.config import ConfigError, Settings, load_settings, weakness
from shared.observability.logging import configure_logging
from shared.observability.tracing import configure_tracing, shutdown_tracing


def _settings(service: str) -> Settings:
    try:
        settings = load_settings()
    except ConfigError as error:
        print("ghostpen: configuration is not valid:", file=sys.stderr)  # noqa: T201
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)  # noqa: T201
        raise SystemExit(2) from None
    configure_logging(level=settings.log_level, fmt=settings.log_format, service=service)
    return settings


def cmd_migrate(args: argparse.Namespace) -> int:
    from loguru import logger

    from shared.db.migrations import head_revision, upgrade_to_head

    settings = _settings("migrate")
    upgrade_to_head(settings.database_url)
    logger.info("migrate.done", revision=head_revision())
    return 0


def cmd_gateway(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.draining import exit_zero_on_sigterm

    if problem := _tls_problem(args.ssl_certfile, args.ssl_keyfile):
        print(f"ghostpen gateway: {problem}", file=sys.stderr)  # noqa: T201
        return 2
    _settings("gateway")  # fail fast, one line per bad value, before uvicorn starts
    exit_zero_on_sigterm()
    uvicorn.run(
        "gateway.app:create_app_from_env",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=25,
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
    )
    return 0


def _tls_problem(certfile: str | None, keyfile: str | None) -> str | None:
    """Why uvicorn could not serve TLS with these files, or None (also when TLS is off).

    Checked before uvicorn starts, so a bad pair is one line on stderr rather than a traceback
    from each server process.
    """
    if certfile is None and keyfile is None:
        return None
    if certfile is None or keyfile is None:
        return "--ssl-certfile and --ssl-keyfile go together: give both or neither"

    def no_passphrase() -> str:
        raise ValueError("the key is encrypted; give an unencrypted key file")

    try:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(certfile, keyfile, password=no_passphrase)
    except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
        return f"cannot serve TLS with {certfile} and {keyfile}: {error}"
    return None


def cmd_worker(args: argparse.Namespace) -> int:
    from workers.main import create_worker

    settings = _settings("worker")
    configure_tracing("ghostpen-worker")
    atexit.register(shutdown_tracing)
    if args.metrics_port:
        from prometheus_client import start_http_server

        from shared.observability.metrics import REGISTRY

        start_http_server(args.metrics_port, addr=args.metrics_host, registry=REGISTRY)
    create_worker(settings, concurrency=args.concurrency, burst=args.burst).run()
    return 0


def cmd_create_admin(args: argparse.Namespace) -> int:
    settings = _settings("cli")
    password = settings.admin_password
    if not password:
        password = (
            getpass.getpass("Admin password: ") if sys.stdin.isatty() else sys.stdin.readline()
        ).rstrip("\r\n")  # the line ending, whichever system wrote it
        # GHOSTPEN_ADMIN_PASSWORD was checked with the rest of the configuration.
        if settings.is_production and (problem := weakness(password)):
            message = f"ghostpen: the password {problem}; choose a long random one"
            print(message, file=sys.stderr)  # noqa: T201
            return 2
    return asyncio.run(_create_admin(settings, args.email, password))


async def _create_admin(settings: Settings, email: str, password: str) -> int:
    from loguru import logger

    from shared.audit.schemas import ClientInfo
    from shared.auth.service import create_admin
    from shared.db.engine import Database
    from shared.db.uow import UnitOfWork
    from shared.errors import AppError
    from shared.queue.client import connect
    from shared.queue.relay import OutboxRelay

    db = Database.from_settings(settings, application_name="ghostpen-cli")
    redis = connect(settings.redis_url)
    relay = OutboxRelay(db.sessions, redis)
    try:
        async with UnitOfWork(db.sessions, relay) as uow:
            # The audit log's "from where": no address, and the command for a user agent.
            client = ClientInfo(ip=None, user_agent="ghostpen create-admin")
            user = await create_admin(uow, settings, email, password, client=client)
            await uow.commit()
    except AppError as error:
        details = "; ".join(f"{e.field}: {e.message}" for e in error.errors) or error.detail
        print(f"ghostpen: {details}", file=sys.stderr)  # noqa: T201
        return 2
    finally:
        await relay.aclose()
        await redis.aclose()
        await db.dispose()
    logger.info("admin.ready", user_id=user.id, email=user.email)
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    from ghostpen.dev import run_dev

    return run_dev(host=args.host, port=args.port, data_dir=args.data_dir)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ghostpen", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    dev = commands.add_parser("dev", help="everything in one terminal, for development")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    dev.add_argument("--data-dir", default=".ghostpen")
    dev.set_defaults(handler=cmd_dev)

    migrate = commands.add_parser("migrate", help="upgrade the database schema to head")
    migrate.set_defaults(handler=cmd_migrate)

    gateway = commands.add_parser("gateway", help="serve the HTTP API")
    gateway.add_argument("--host", default="127.0.0.1")
    gateway.add_argument("--port", type=int, default=8000)
    gateway.add_argument("--workers", type=int, default=1, help="server processes")
    gateway.add_argument("--ssl-certfile", default=None, help="serve HTTPS: certificate chain, PEM")
    gateway.add_argument("--ssl-keyfile", default=None, help="its private key, PEM, unencrypted")
    gateway.set_defaults(handler=cmd_gateway)

    worker = commands.add_parser("worker", help="run an ARQ generation worker")
    worker.add_argument("--concurrency", type=int, default=None, help="jobs at once")
    worker.add_argument("--burst", action="store_true", help="drain the queue, then exit")
    worker.add_argument("--metrics-port", type=int, default=None, help="serve /metrics here")
    worker.add_argument("--metrics-host", default="127.0.0.1")
    worker.set_defaults(handler=cmd_worker)

    admin = commands.add_parser("create-admin", help="create or promote an admin user")
    admin.add_argument("--email", required=True)
    admin.set_defaults(handler=cmd_create_admin)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.handler(args)
    return code
