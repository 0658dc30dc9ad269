"""Every request's input is clean text before a handler sees it (see shared.text).

JSON bodies are cleaned as Litestar decodes them, guided by the handler's body type, so every
field of every endpoint gets the rule from its type; path and query values (ids, filters,
cursors) are checked before the handler runs. Both happen before authentication, like the
refusal of a body that is not JSON.
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from shared.errors import FieldError, ValidationFailed
from shared.text import MAX_DEPTH, clean, control_character


class InputRequest(Request[Any, Any, Any]):
    """The request class of the app: its JSON body is NFC and free of control characters."""

    async def json(self) -> Any:
        """The decoded body, cleaned for the handler's body type. Raises ValidationFailed."""
        try:
            data = await super().json()
        except RecursionError:
            # msgspec gives up near the interpreter's limit: the same refusal as a shallower
            # document deeper than any request type (shared.text).
            too_deep = FieldError("body", f"nests more than {MAX_DEPTH} levels")
            raise ValidationFailed(errors=[too_deep]) from None
        body = self.route_handler.parsed_data_field
        return clean(data, body.annotation if body is not None else Any)


async def refuse_control_characters(request: Request[Any, Any, Any]) -> None:
    """Refuse path and query values holding control characters (Postgres cannot even store
    NUL, so an id like ``%00`` would otherwise fail in the database). Raises ValidationFailed.
    """
    values = [*request.path_params.items(), *request.query_params.multi_items()]
    errors = [
        FieldError(name, problem)
        for name, value in values
        if isinstance(value, str) and (problem := control_character(value)) is not None
    ]
    if errors:
        raise ValidationFailed(errors=errors)
