"""The job queue: task names, msgspec payloads, ARQ plumbing and the outbox relay."""
