"""Idempotency keys: a retried POST replays its first response instead of acting twice."""
