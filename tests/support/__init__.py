"""Helpers the test suite shares: where its Postgres and Redis come from."""
