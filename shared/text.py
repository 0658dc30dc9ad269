"""Text hygiene for client input: NFC, and no control characters where they have no business.

Every string a client sends is NFC-normalised, so one word typed on two keyboards is one value
(equal, searchable, the same length), and C0/C1 control characters are refused: invisible in
logs and interfaces, they can forge log lines or terminal output, and Postgres cannot store NUL
at all. Tabs and line breaks are allowed only in fields whose type carries :data:`MULTILINE`
(posts, topics, ...). :func:`clean` applies this to a decoded JSON document, guided by the msgspec
type it is about to become, so a field gets the rule from its type without code of its own.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

import msgspec
import msgspec.inspect as mi

from shared.errors import FieldError, ValidationFailed

# Annotated[str, Meta(...), MULTILINE]: the field is multi-line text.
MULTILINE = msgspec.Meta(extra={"multiline": True})

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LIST_TYPES = (mi.ListType, mi.SetType, mi.FrozenSetType, mi.VarTupleType)
_OBJECT_TYPES = (mi.DictType, mi.StructType)
_ANY = mi.AnyType()
# Deeper than any request type nests, and far from the interpreter's recursion limit.
MAX_DEPTH = 32


def control_character(value: str, *, multiline: bool = False) -> str | None:
    """Why ``value`` is refused (the first control character it holds), or None."""
    found = (_CONTROL_BUT_LINES if multiline else _CONTROL).search(value)
    if found is None:
        return None
    allowed = " other than tabs and line breaks" if multiline else ""
    return f"must not contain control characters{allowed} (found U+{ord(found.group()):04X})"


def clean(data: Any, type_: Any) -> Any:
    """``data`` (decoded JSON) with every string NFC-normalised, checked against ``type_``.

    Only strings and nesting are looked at; shapes and bounds are left to msgspec, which decodes
    the result (so bounds apply to the normalised text).

    Raises:
        ValidationFailed: one error per string holding a control character, and per value nested
            deeper than :data:`MAX_DEPTH`, naming its field as msgspec does (``items[3].topic``).
    """
    cleaner = _Cleaner()
    result = cleaner.walk(data, _type_info(type_), "", False, 0)
    if cleaner.errors:
        raise ValidationFailed(errors=cleaner.errors)
    return result


@functools.cache
def _type_info(type_: Any) -> mi.Type:
    return mi.type_info(type_)


class _Cleaner:
    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def walk(self, value: Any, type_: mi.Type, path: str, multiline: bool, depth: int) -> Any:
        if isinstance(type_, mi.Metadata):
            marked = bool(type_.extra and type_.extra.get("multiline"))
            return self.walk(value, type_.type, path, multiline or marked, depth)
        if isinstance(type_, mi.UnionType):
            return self.walk(value, _member_for(value, type_), path, multiline, depth)
        if isinstance(value, str):
            return self.text(value, path, multiline)
        if not isinstance(value, list | dict):
            return value
        if depth == MAX_DEPTH:
            # No request type nests this deep; walking on could exhaust the stack.
            self.errors.append(FieldError(path or "body", f"nests more than {MAX_DEPTH} levels"))
            return value
        if isinstance(value, dict):
            return self.object(value, type_, path, multiline, depth + 1)
        item = type_.item_type if isinstance(type_, _LIST_TYPES) else _ANY
        return [
            self.walk(entry, item, f"{path}[{index}]", multiline, depth + 1)
            for index, entry in enumerate(value)
        ]

    def object(
        self, value: dict[str, Any], type_: mi.Type, path: str, multiline: bool, depth: int
    ) -> dict[str, Any]:
        prefix = f"{path}." if path else ""
        if isinstance(type_, mi.StructType):
            fields = {field.encode_name: field.type for field in type_.fields}
            # Unknown keys are msgspec's to refuse; a field's type says if it is multi-line.
            return {
                key: self.walk(entry, fields.get(key, _ANY), prefix + key, False, depth)
                for key, entry in value.items()
            }
        key_type, value_type = (
            (type_.key_type, type_.value_type) if isinstance(type_, mi.DictType) else (_ANY, _ANY)
        )
        return {
            self.walk(key, key_type, path or "body", False, depth): self.walk(
                entry, value_type, prefix + key, multiline, depth
            )
            for key, entry in value.items()
        }

    def text(self, value: str, path: str, multiline: bool) -> str:
        problem = control_character(value, multiline=multiline)
        if problem is not None:
            self.errors.append(FieldError(path or "body", problem))
            return value
        return unicodedata.normalize("NFC", value)


def _member_for(value: Any, union: mi.UnionType) -> mi.Type:
    """The union member a JSON value can become (it decides whether a string is multi-line)."""
    wanted: tuple[type[mi.Type], ...] = (
        (mi.StrType,)
        if isinstance(value, str)
        else _LIST_TYPES
        if isinstance(value, list)
        else _OBJECT_TYPES
        if isinstance(value, dict)
        else ()
    )
    for member in union.types:
        inner = member.type if isinstance(member, mi.Metadata) else member
        if isinstance(inner, wanted):
            return member
    return _ANY
