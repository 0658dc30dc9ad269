"""Profile API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from shared.style import Platform
from shared.text import MULTILINE

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Language = Annotated[
    str, msgspec.Meta(min_length=2, max_length=16, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
]
SampleText = Annotated[str, msgspec.Meta(min_length=1, max_length=20_000), MULTILINE]
MAX_SAMPLES = 200


class SampleIn(msgspec.Struct, forbid_unknown_fields=True):
    platform: Platform
    text: SampleText


class ProfileCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    samples: Annotated[list[SampleIn], msgspec.Meta(min_length=1, max_length=MAX_SAMPLES)]
    language: Language | None = None


class ProfileUpdate(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | None = None
    language: Language | None = None


class SamplesAdd(msgspec.Struct, forbid_unknown_fields=True):
    samples: Annotated[list[SampleIn], msgspec.Meta(min_length=1, max_length=MAX_SAMPLES)]


class ProfileOut(msgspec.Struct):
    id: str
    name: str
    language: str
    sample_count: int
    style: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class ScoreIn(msgspec.Struct, forbid_unknown_fields=True):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=70_000), MULTILINE]
    platform: Platform | None = None


class ScoreOut(msgspec.Struct):
    overall: float
    features: dict[str, float]
