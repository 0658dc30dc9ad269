"""shared.text: NFC and control characters, guided by the type a JSON document becomes."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from shared.errors import ValidationFailed
from shared.jobs.schemas import JobCreate
from shared.profiles.schemas import ProfileUpdate
from shared.text import clean, control_character

DECOMPOSED = "e\u0301"  # "é" as an "e" and a combining accent


def fields_refused(data: Any, type_: Any) -> list[str]:
    with pytest.raises(ValidationFailed) as refused:
        clean(data, type_)
    return [error.field for error in refused.value.errors]


def test_bounds_apply_to_the_normalised_text() -> None:
    """200 letters typed decomposed are 400 code points, but a 200-character name."""
    name = DECOMPOSED * 200
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"name": name}, ProfileUpdate)
    update = msgspec.convert(clean({"name": name}, ProfileUpdate), ProfileUpdate)
    assert update.name == "\u00e9" * 200


def test_every_string_is_normalised_whatever_its_place() -> None:
    data = {
        "profile_id": DECOMPOSED,
        "platform": "x",
        "topic": f"line one\n\t{DECOMPOSED}",
        "metadata": {DECOMPOSED: DECOMPOSED, "n": 1, "none": None},
        "options": {"model": DECOMPOSED},
    }
    cleaned = clean(data, JobCreate)
    assert cleaned == {
        "profile_id": "\u00e9",
        "platform": "x",
        "topic": "line one\n\t\u00e9",
        "metadata": {"\u00e9": "\u00e9", "n": 1, "none": None},
        "options": {"model": "\u00e9"},
    }


def test_every_refused_field_is_named_once() -> None:
    data = {
        "profile_id": "p\n",
        "topic": "fine\nbut\x00",
        "metadata": {"k\t": "v", "note": "ok\r\n", "bad": "\x9b"},
        "options": {"model": "m\x1b"},
        "unknown": "\x07",  # msgspec refuses the field itself; its text is still checked
    }
    assert fields_refused(data, JobCreate) == [
        "profile_id",
        "topic",
        "metadata",
        "metadata.bad",
        "options.model",
        "unknown",
    ]


def test_shapes_are_left_to_msgspec() -> None:
    """A value of the wrong shape passes through untouched, for msgspec to refuse."""
    data = {"topic": ["a\n"], "metadata": "text", "options": [1, {"$gt": ""}]}
    assert clean(data, JobCreate) == data


@pytest.mark.parametrize(
    ("value", "multiline", "refused"),
    [
        ("plain text, émoji 🚀", False, None),
        ("tab\there", False, "U+0009"),
        ("tab\there\r\n", True, None),
        ("del\x7f", True, "U+007F"),
        ("csi\x9b", True, "U+009B"),
        ("nbsp\u00a0 is text", False, None),
    ],
)
def test_control_characters(value: str, multiline: bool, refused: str | None) -> None:
    problem = control_character(value, multiline=multiline)
    assert (problem is None) if refused is None else (refused in (problem or ""))
