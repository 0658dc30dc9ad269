"""Cursor pagination over time-ordered ids: newest first, stable under inserts."""

from __future__ import annotations

import base64
import binascii
from typing import Generic, TypeVar

import msgspec

from shared.errors import FieldError, ValidationFailed

T = TypeVar("T")

MAX_LIMIT = 100
DEFAULT_LIMIT = 20


class Page(msgspec.Struct, Generic[T]):
    data: list[T]
    next_cursor: str | None = None


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    """Return the id to continue after; a malformed cursor is a client error, not a 500."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = base64.urlsafe_b64decode(padded.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        value = ""
    if not value or len(value) > 64 or not value.isascii():
        raise ValidationFailed(errors=[FieldError("cursor", "invalid cursor")])
    return value


def page_of(items: list[T], limit: int, id_of: str) -> Page[T]:
    """Build a page from ``limit + 1`` fetched rows; ``id_of`` names the id attribute."""
    has_more = len(items) > limit
    items = items[:limit]
    next_cursor = encode_cursor(getattr(items[-1], id_of)) if has_more and items else None
    return Page(data=items, next_cursor=next_cursor)
