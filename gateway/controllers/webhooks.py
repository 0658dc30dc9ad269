"""Webhooks: the account's signing secret, endpoints, and the delivery log with retries."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.dependencies import PageCursor, PageLimit, gateway_state
from shared.auth.principal import Principal
from shared.db.uow import UnitOfWork
from shared.pagination import DEFAULT_LIMIT, Page
from shared.webhooks import service
from shared.webhooks.schemas import (
    DeliveryFilter,
    DeliveryOut,
    DeliveryStatus,
    EndpointCreate,
    EndpointCreatedOut,
    EndpointOut,
    EndpointUpdate,
    EventType,
    SecretOut,
)

READ = {"scope": "webhooks:read"}
WRITE = {"scope": "webhooks:write"}
SubjectId = Annotated[str | None, QueryParameter(max_length=64)]


class WebhookSecretController(Controller):
    path = "/webhook-secret"
    tags = ["webhooks"]
    security = [{"BearerAuth": []}]

    @get(opt=READ, summary="The account's signing secret for per-request webhook_url deliveries")
    async def get_secret(
        self, uow: NamedDependency[UnitOfWork], principal: NamedDependency[Principal]
    ) -> SecretOut:
        """Return the account's secret, creating it on first use."""
        return await service.account_secret(uow, principal.user_id)

    @post("/rotate", opt=WRITE, status_code=200, summary="Rotate the account's signing secret")
    async def rotate(
        self,
        uow: NamedDependency[UnitOfWork],
        principal: NamedDependency[Principal],
        state: State,
    ) -> SecretOut:
        """Replace the secret; the old one keeps signing for WEBHOOK_SECRET_GRACE."""
        return await service.rotate_account_secret(
            uow, gateway_state(state).settings, principal.user_id
        )


class WebhookEndpointController(Controller):
    path = "/webhook-endpoints"
    tags = ["webhooks"]
    security = [{"BearerAuth": []}]

    @post(opt=WRITE, summary="Register an endpoint; its secret is shown only in this response")
    async def create(
        self,
        data: JSONBody[EndpointCreate],
        uow: NamedDependency[UnitOfWork],
        principal: NamedDependency[Principal],
        state: State,
    ) -> EndpointCreatedOut:
        """Create an endpoint. Raises ValidationFailed (URL refused)."""
        return await service.create_endpoint(
            uow, gateway_state(state).settings, principal.user_id, data
        )

    @get(opt=READ, summary="List your endpoints, newest first")
    async def list_endpoints(
        self,
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        limit: PageLimit = DEFAULT_LIMIT,
        cursor: PageCursor = None,
    ) -> Page[EndpointOut]:
        """List endpoints. Raises ValidationFailed (bad cursor)."""
        return await service.list_endpoints(session, principal.user_id, limit=limit, cursor=cursor)

    @get("/{endpoint_id:str}", opt=READ, summary="Get an endpoint")
    async def get_endpoint(
        self,
        endpoint_id: FromPath[str],
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> EndpointOut:
        """Get an endpoint. Raises NotFound."""
        return await service.get_endpoint(session, principal.user_id, endpoint_id)

    @patch("/{endpoint_id:str}", opt=WRITE, summary="Change, disable or re-enable an endpoint")
    async def update(
        self,
        endpoint_id: FromPath[str],
        data: JSONBody[EndpointUpdate],
        uow: NamedDependency[UnitOfWork],
        principal: NamedDependency[Principal],
        state: State,
    ) -> EndpointOut:
        """Change an endpoint. Raises NotFound and ValidationFailed (URL refused)."""
        return await service.update_endpoint(
            uow, gateway_state(state).settings, principal.user_id, endpoint_id, data
        )

    @delete("/{endpoint_id:str}", opt=WRITE, summary="Delete an endpoint and its delivery log")
    async def delete_endpoint(
        self,
        endpoint_id: FromPath[str],
        uow: NamedDependency[UnitOfWork],
        principal: NamedDependency[Principal],
    ) -> None:
        """Delete an endpoint. Raises NotFound."""
        await service.delete_endpoint(uow, principal.user_id, endpoint_id)

    @post(
        "/{endpoint_id:str}/rotate-secret",
        opt=WRITE,
        status_code=200,
        summary="Rotate an endpoint's signing secret",
    )
    async def rotate_secret(
        self,
        endpoint_id: FromPath[str],
        uow: NamedDependency[UnitOfWork],
        principal: NamedDependency[Principal],
        state: State,
    ) -> SecretOut:
        """Replace the endpoint's secret (the old one signs during the grace). Raises NotFound."""
        return await service.rotate_endpoint_secret(
            uow, gateway_state(state).settings, principal.user_id, endpoint_id
        )

    @get("/{endpoint_id:str}/deliveries", opt=READ, summary="An endpoint's deliveries")
    async def list_deliveries(
        self,
        endpoint_id: FromPath[str],
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        event_type: FromQuery[EventType | None] = None,
        status: FromQuery[DeliveryStatus | None] = None,
        subject_id: SubjectId = None,
        limit: PageLimit = DEFAULT_LIMIT,
        cursor: PageCursor = None,
    ) -> Page[DeliveryOut]:
        """Deliveries to one endpoint, newest first, with attempts. Raises NotFound."""
        where = DeliveryFilter(
            endpoint_id=endpoint_id, event_type=event_type, status=status, subject_id=subject_id
        )
        return await service.list_deliveries(
            session, principal.user_id, where, limit=limit, cursor=cursor
        )


class WebhookDeliveryController(Controller):
    path = "/webhook-deliveries"
    tags = ["webhooks"]
    security = [{"BearerAuth": []}]

    @get(opt=READ, summary="All your deliveries (endpoints and per-request URLs), newest first")
    async def list_deliveries(
        self,
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        event_type: FromQuery[EventType | None] = None,
        status: FromQuery[DeliveryStatus | None] = None,
        subject_id: SubjectId = None,
        limit: PageLimit = DEFAULT_LIMIT,
        cursor: PageCursor = None,
    ) -> Page[DeliveryOut]:
        """List deliveries with their attempts. Raises ValidationFailed (bad cursor)."""
        where = DeliveryFilter(event_type=event_type, status=status, subject_id=subject_id)
        return await service.list_deliveries(
            session, principal.user_id, where, limit=limit, cursor=cursor
        )

    @get("/{delivery_id:str}", opt=READ, summary="Get a delivery with its attempts")
    async def get_delivery(
        self,
        delivery_id: FromPath[str],
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> DeliveryOut:
        """Get a delivery. Raises NotFound."""
        return await service.get_delivery(session, principal.user_id, delivery_id)

    @post("/{delivery_id:str}/retry", opt=WRITE, status_code=202, summary="Send a delivery again")
    async def retry(
        self,
        delivery_id: FromPath[str],
        uow: NamedDependency[UnitOfWork],
        principal: NamedDependency[Principal],
    ) -> Response[DeliveryOut]:
        """Replay a finished delivery now (same webhook-id). Raises NotFound and Conflict."""
        delivery = await service.retry_delivery(uow, principal.user_id, delivery_id)
        return Response(delivery, status_code=202)
