"""The ``Idempotency-Key`` header, for every endpoint that creates something.

A handler hands its creation to :func:`created`, which answers with the route's status code
and the new resource's ``Location``. With a key, the first request acts and its response is
stored in the same transaction; a retry with the same body replays that response byte for
byte (plus ``Idempotent-Replayed: true``), a different body is a 409.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Protocol

from litestar import Request, Response
from litestar.params import HeaderParameter
from litestar.serialization import encode_json

from gateway.dependencies import gateway_state
from shared.auth.principal import Principal
from shared.db.uow import UnitOfWork
from shared.idempotency import service
from shared.idempotency.service import StoredResponse

IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x20-\x7e]+$",
        description="Makes retries safe: the same key and body within the retention window "
        "(24 h by default) return the first response, with Idempotent-Replayed: true, instead "
        "of acting again; the same key with another body is 409 idempotency_conflict.",
    ),
]
REPLAYED_HEADER = "Idempotent-Replayed"


class Resource(Protocol):
    @property
    def id(self) -> str: ...


async def created(
    request: Request[Any, Any, Any],
    uow: UnitOfWork,
    principal: Principal,
    key: str | None,
    data: Any,
    create: Callable[[], Awaitable[Resource]],
) -> Response[Any]:
    """Run ``create`` (once per key and body) and answer with the new resource, the route's
    status code and ``Location: {route path}/{id}``; replay that answer for retries.

    Raises IdempotencyConflict (key used for another request) and whatever ``create`` raises;
    a failure rolls back the claim with everything else, so the key stays usable.
    """
    if key is not None:
        path = request.scope.get("path_template") or request.url.path
        request_hash = service.fingerprint(request.method, path, data)
        settings = gateway_state(request.app.state).settings
        replay = await service.begin(
            uow.session, principal.user_id, key, request_hash, ttl_seconds=settings.idempotency_ttl
        )
        if replay is not None:
            return _render(replay, {REPLAYED_HEADER: "true"})
    resource = await create()
    stored = StoredResponse(
        status_code=request.route_handler.status_code,
        body=encode_json(resource),
        location=f"{request.url.path.rstrip('/')}/{resource.id}",
    )
    if key is not None:
        await service.complete(uow.session, principal.user_id, key, stored)
    # The first response is rendered from the stored bytes too, so a replay is identical.
    return _render(stored, {})


def _render(stored: StoredResponse, headers: dict[str, str]) -> Response[Any]:
    if stored.location:
        headers["Location"] = stored.location
    return Response(
        content=stored.body,
        status_code=stored.status_code,
        headers=headers,
        media_type="application/json",
    )
