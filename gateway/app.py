"""The gateway: a thin Litestar app that authenticates, validates, records and enqueues.

It never calls the model; generation happens in the workers.
"""

from __future__ import annotations

import atexit
from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from litestar import Litestar, Router
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ASGIApp

from gateway.controllers.admin import AdminController
from gateway.controllers.auth import (
    ApiKeyController,
    AuthController,
    MeController,
    SessionController,
)
from gateway.controllers.batches import BatchController
from gateway.controllers.jobs import JobController
from gateway.controllers.operations import OperationsController
from gateway.controllers.profiles import ProfileController
from gateway.controllers.schedules import ScheduleController
from gateway.controllers.usage import UsageController
from gateway.controllers.webhooks import (
    WebhookDeliveryController,
    WebhookEndpointController,
    WebhookSecretController,
)
from gateway.dependencies import (
    provide_anonymous,
    provide_client,
    provide_client_ip,
    provide_principal,
    provide_read_session,
    provide_settings,
    provide_uow,
)
from gateway.draining import drain_on_stop_signals
from gateway.headers import security_headers
from gateway.https import require_https
from gateway.inputs import InputRequest, refuse_control_characters
from gateway.methods import allow_every_method
from gateway.middleware import request_context
from gateway.openapi import finish_document, swagger_plugin
from gateway.problems import EXCEPTION_HANDLERS
from gateway.rate_limits import RateLimiter, add_rate_limit_headers
from gateway.state import GatewayState
from shared.config import Settings, load_settings
from shared.db.engine import Database
from shared.jobs.events import JobEventHub
from shared.observability.logging import configure_logging
from shared.observability.tracing import configure_tracing, instrument_asgi, shutdown_tracing
from shared.queue.client import connect
from shared.queue.relay import OutboxRelay

API_PREFIX = "/api/v1"
DOCS_PATH = f"{API_PREFIX}/docs"


def _lifespan(settings: Settings) -> Callable[[Litestar], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncGenerator[None, None]:
        db = Database.from_settings(settings, application_name="ghostpen-gateway")
        redis = connect(settings.redis_url)
        hub = JobEventHub(redis)
        hub.start()
        relay = OutboxRelay(db.sessions, redis)
        limiter = RateLimiter(
            redis.connection_pool, settings.rate_limits, settings.submit_rate_limits
        )
        app.state["gateway"] = GatewayState(
            settings=settings,
            db=db,
            redis=redis,
            job_events=hub,
            relay=relay,
            rate_limiter=limiter,
        )
        try:
            with drain_on_stop_signals(hub):
                yield
        finally:
            await relay.aclose()
            await hub.stop()
            await redis.aclose()
            await db.dispose()

    return lifespan


def _openapi() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="GhostPen API",
        version="1.0.0",
        description="Social-media posts in a specific author's voice, as asynchronous jobs.",
        # The docs router owns every path below its own, so it lives under /docs; the
        # contract's /api/v1/openapi.json is served by OperationsController.
        path=DOCS_PATH,
        render_plugins=[swagger_plugin(), JsonRenderPlugin()],
        components=Components(
            security_schemes={
                "BearerAuth": SecurityScheme(
                    type="http",
                    scheme="bearer",
                    description="An access token (JWT) from /auth/login, or an API key (gp_...).",
                )
            }
        ),
    )


def create_litestar(settings: Settings) -> Litestar:
    api = Router(
        path=API_PREFIX,
        route_handlers=[
            AuthController,
            MeController,
            ApiKeyController,
            SessionController,
            ProfileController,
            JobController,
            ScheduleController,
            UsageController,
            AdminController,
            BatchController,
            WebhookSecretController,
            WebhookEndpointController,
            WebhookDeliveryController,
        ],
    )
    return Litestar(
        route_handlers=[api, OperationsController],
        dependencies={
            "settings": Provide(provide_settings, sync_to_thread=False),
            "uow": Provide(provide_uow),
            "principal": Provide(provide_principal),
            "anonymous": Provide(provide_anonymous),
            "client_ip": Provide(provide_client_ip, sync_to_thread=False),
            "client": Provide(provide_client, sync_to_thread=False),
            "session": Provide(provide_read_session),
        },
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        openapi_config=_openapi(),
        cors_config=CORSConfig(
            allow_origins=list(settings.allowed_origins),
            # Credentials travel in the Authorization header, never in cookies: browsers need
            # no permission to attach cookies (docs/security.md, "Browsers").
            allow_credentials=False,
            expose_headers=[
                "Location",
                "X-Request-ID",
                "Retry-After",
                "Idempotent-Replayed",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
            ],
        )
        if settings.allowed_origins
        else None,
        request_max_body_size=settings.max_body_bytes,
        # Text input is NFC and free of control characters (gateway/inputs.py).
        request_class=InputRequest,
        before_request=refuse_control_characters,
        lifespan=[_lifespan(settings)],
        on_startup=[finish_document],
        before_send=[add_rate_limit_headers, allow_every_method],
        state=State({}),
        # Logging is configured once per process by shared.observability (loguru).
        logging_config=None,
        debug=False,
    )


def create_app(settings: Settings) -> ASGIApp:
    """The served ASGI app: Litestar inside tracing, HTTPS enforcement, security headers and the
    request context (outermost, so every response has a request id and is measured)."""
    app = require_https(instrument_asgi(create_litestar(settings)), settings)
    return request_context(
        security_headers(
            app,
            hsts=settings.is_production,
            docs_path=DOCS_PATH,
            private_prefix=f"{API_PREFIX}/auth/",
        )
    )


def create_app_from_env() -> ASGIApp:
    """Factory for ``uvicorn --factory`` (one per server process)."""
    settings = load_settings()
    configure_logging(level=settings.log_level, fmt=settings.log_format, service="gateway")
    configure_tracing("ghostpen-gateway")
    atexit.register(shutdown_tracing)  # whoever configures tracing flushes it at exit
    return create_app(settings)
