"""Alembic from code: ``ghostpen migrate``, readiness checks and the tests use the same path."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

import migrations


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.attributes["database_url"] = database_url
    return config


def upgrade_to_head(database_url: str) -> None:
    """Blocking (Alembic's env runs its own event loop): call it from a thread when async."""
    command.upgrade(alembic_config(database_url), "head")


@cache
def head_revision() -> str:
    script = ScriptDirectory.from_config(alembic_config("postgresql://unused/unused"))
    head = script.get_current_head()
    if head is None:
        raise RuntimeError("the migration history has no head")
    return head


async def current_revision(session: AsyncSession) -> str | None:
    result = await session.execute(text("SELECT version_num FROM alembic_version"))
    return result.scalar_one_or_none()
