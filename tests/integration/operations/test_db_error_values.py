"""A failed statement's error names the statement, never its values: the values include
password hashes, webhook secrets and users' text, and errors are logged with their message."""

from __future__ import annotations

import traceback

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shared.db.engine import Database
from shared.webhooks.signing import new_secret


async def test_a_failed_statement_does_not_carry_its_values(db: Database) -> None:
    secret = new_secret()
    with pytest.raises(DBAPIError) as caught:
        async with db.engine.connect() as connection:
            await connection.execute(
                text("SELECT 1 / 0, CAST(:secret AS text)"), {"secret": secret}
            )
    rendered = "".join(traceback.format_exception(caught.value))
    assert "division by zero" in rendered
    assert secret not in rendered
