"""ARQ job serialisation with msgspec MessagePack instead of pickle.

Pickle would let anyone who can write to Redis run code in a worker; MessagePack carries data
only, and msgspec encodes payload Structs natively.
"""

from __future__ import annotations

from typing import Any

import msgspec

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(dict[str, Any])


def serialize(job: dict[str, Any]) -> bytes:
    return _encoder.encode(job)


def deserialize(data: bytes) -> dict[str, Any]:
    return _decoder.decode(data)
