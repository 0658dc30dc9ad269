"""Test doubles shared by unit, integration, e2e tests and benchmarks."""
