"""Webhooks: signed event delivery (Standard Webhooks) to account endpoints and per-request URLs."""
