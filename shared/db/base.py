"""The single declarative base and MetaData, with a constraint naming convention.

Named constraints make Alembic migrations deterministic and let repositories recognise which
unique constraint an ``IntegrityError`` came from.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import DateTime, MetaData, String, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.clock import utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID_LENGTH = 40


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: DateTime(timezone=True)}


def id_column() -> Mapped[str]:
    return mapped_column(String(ID_LENGTH), primary_key=True)


def created_at_column() -> Mapped[datetime]:
    """Set in Python too, so a response can be built from the row before the commit."""
    return mapped_column(default=utcnow, server_default=func.now())
