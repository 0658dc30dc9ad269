"""Opaque, time-ordered, prefixed identifiers (``job_01J...``).

A ULID body (48-bit millisecond time + 80 random bits, Crockford base32) keeps ids sortable
by creation, so cursor pagination and B-tree inserts stay cheap.
"""

from __future__ import annotations

import secrets
import time

import msgspec

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_BODY_LENGTH = 26


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, index = divmod(value, 32)
        chars.append(_ALPHABET[index])
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """Return ``{prefix}_{ulid}``; the prefix says what the id names."""
    millis = time.time_ns() // 1_000_000
    return f"{prefix}_{_encode(millis, 10)}{_encode(secrets.randbits(80), 16)}"


def shape(prefix: str) -> msgspec.Meta:
    """Admit exactly the ids :func:`new_id` makes with ``prefix``, for input that must be one.

    The 48-bit time in 10 characters starts with 0-7. The exact length also refuses a final
    newline, which ``$`` lets through.
    """
    length = len(prefix) + 1 + _BODY_LENGTH
    return msgspec.Meta(
        pattern=f"^{prefix}_[0-7][{_ALPHABET}]{{{_BODY_LENGTH - 1}}}$",
        min_length=length,
        max_length=length,
    )
