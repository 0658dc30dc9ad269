"""Opaque, time-ordered, prefixed identifiers (``job_01J...``).

A ULID body (48-bit millisecond time + 80 random bits, Crockford base32) keeps ids sortable
by creation, so cursor pagination and B-tree inserts stay cheap.
"""

from __future__ import annotations

import secrets
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


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
