"""Schedules: one-shot and recurring (cron, in a time zone) job submissions."""
