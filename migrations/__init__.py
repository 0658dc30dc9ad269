"""Alembic migration history."""
