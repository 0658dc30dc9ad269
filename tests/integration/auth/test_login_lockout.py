"""Brute-force protection of /auth/login and /auth/refresh over real HTTP and Redis.

Apps are served with small limits and ``TRUSTED_PROXIES`` set to the loopback address, so each
test speaks from its own address through ``X-Forwarded-For`` and uses fresh emails: the Redis
counters of one test never meet another's.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest
from arq.connections import ArqRedis
from sqlalchemy import text

from shared.auth import lockout, passwords
from shared.config import Settings
from shared.db.engine import Database
from shared.queue.client import connect
from tests.conftest import PASSWORD, serve
from tests.support.admin import problem

API = "/api/v1"
ACCOUNT_LIMIT = 3
IP_LIMIT = 6
LOCK = 60
LOCKED = "too many failed sign-in attempts; retry later"
BUSY = "too many sign-in attempts at once; retry shortly"


def email() -> str:
    return f"lock-{uuid.uuid4().hex[:10]}@example.com"


def address() -> str:
    return f"2001:db8:{uuid.uuid4().hex[:4]}::7"  # a fresh /64 (documentation range)


def strict(settings: Settings, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "trusted_proxies": ("127.0.0.1/32",),
        "login_max_failures_per_account": ACCOUNT_LIMIT,
        "login_max_failures_per_ip": IP_LIMIT,
        "login_lock_seconds": LOCK,
        "login_failure_window": 900,
        **overrides,
    }
    return msgspec.structs.replace(settings, **values)


@pytest.fixture(scope="module")
async def client(settings: Settings, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    """The app with small limits; asking for ``db`` gets the tables truncated after each test."""
    async with serve(strict(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        yield http


class Caller:
    """One client address talking to the served app."""

    def __init__(self, http: httpx.AsyncClient, ip: str | None = None) -> None:
        self.http = http
        self.headers = {"X-Forwarded-For": ip or address()}
        self.user_ids: dict[str, str] = {}

    async def register(self) -> str:
        """A new account's email; its id is in ``user_ids``."""
        address_ = email()
        response = await self.http.post(
            f"{API}/auth/register", json={"email": address_, "password": PASSWORD}
        )
        assert response.status_code == 201, response.text
        self.user_ids[address_] = response.json()["id"]
        return address_

    async def login(self, address_: str, password: str = PASSWORD) -> httpx.Response:
        return await self.http.post(
            f"{API}/auth/login",
            json={"email": address_, "password": password},
            headers=self.headers,
        )

    async def refresh(self, token: str) -> httpx.Response:
        return await self.http.post(
            f"{API}/auth/refresh", json={"refresh_token": token}, headers=self.headers
        )


@pytest.fixture
def verified(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The passwords the served app checks from now on (an unknown email's against a dummy)."""
    checked: list[str] = []
    real = passwords.verify_password_async

    async def verify(password_hash: str, password: str) -> bool:
        checked.append(password)
        return await real(password_hash, password)

    monkeypatch.setattr(passwords, "verify_password_async", verify)
    return checked


def locked(response: httpx.Response, longest: int = LOCK) -> dict[str, Any]:
    """A 429 with Retry-After within the lock; the body without its request id."""
    body = problem(response, 429, "rate_limited")
    assert 1 <= int(response.headers["retry-after"]) <= longest
    body.pop("request_id")
    return body


async def lock_rows(db: Database, *, ip: str | None = None) -> list[dict[str, Any]]:
    query = "SELECT * FROM audit_events WHERE action = 'auth.login_locked'"
    if ip is not None:
        query += " AND ip = :ip"
    async with db.engine.connect() as connection:
        result = await connection.execute(text(query + " ORDER BY id"), {"ip": ip})
        return [dict(row) for row in result.mappings()]


async def test_an_account_locks_after_repeated_failures_like_an_unknown_email(
    client: httpx.AsyncClient, db: Database
) -> None:
    caller = Caller(client)
    known = await caller.register()
    for _ in range(ACCOUNT_LIMIT):
        problem(await caller.login(known, "not the password"), 401, "unauthorized")
    # Even the right password is refused now, from this address and from any other.
    refused_known = locked(await caller.login(known))
    locked(await Caller(client).login(known))

    unknown = email()
    stranger = Caller(client)
    for _ in range(ACCOUNT_LIMIT):
        problem(await stranger.login(unknown, "not the password"), 401, "unauthorized")
    refused_unknown = locked(await stranger.login(unknown))
    assert refused_known == refused_unknown  # nothing tells which account exists
    assert refused_known["detail"] == LOCKED

    # The lock is on the account: the same address signs in to another one.
    other = await caller.register()
    assert (await caller.login(other)).status_code == 200

    rows = await lock_rows(db, ip=caller.headers["X-Forwarded-For"])
    rows += await lock_rows(db, ip=stranger.headers["X-Forwarded-For"])
    by_email = {row["details"]["email"]: row for row in rows}
    assert by_email[known]["details"] == {"scope": "account", "lock_seconds": LOCK, "email": known}
    assert by_email[known]["actor_user_id"] == caller.user_ids[known]
    assert by_email[known]["target_user_id"] == caller.user_ids[known]
    assert by_email[known]["ip"] == caller.headers["X-Forwarded-For"]
    assert by_email[unknown]["actor_user_id"] is None
    assert len(rows) == 2


async def test_locked_attempts_are_refused_before_any_password_check(
    client: httpx.AsyncClient, verified: list[str]
) -> None:
    caller = Caller(client)
    known, unknown = await caller.register(), email()
    for account in (known, unknown):
        for _ in range(ACCOUNT_LIMIT):
            await caller.login(account, "not the password")
    verified.clear()
    locked(await caller.login(known))
    locked(await caller.login(known, "another guess"))
    locked(await caller.login(unknown, "another guess"))
    assert verified == []
    problem(await Caller(client).login(email(), "x" * 12), 401, "unauthorized")
    assert verified == ["x" * 12]  # the control: an unlocked attempt is verified


async def test_an_address_locks_after_failures_across_accounts_and_refreshes(
    client: httpx.AsyncClient, db: Database
) -> None:
    victim = Caller(client)
    known = await victim.register()
    sprayer = Caller(client)
    for _ in range(IP_LIMIT):
        problem(await sprayer.login(email(), "Winter2026!"), 401, "unauthorized")
    locked(await sprayer.login(known))  # one failure or none per account, but one address
    assert (await victim.login(known)).status_code == 200  # others are not affected

    [row] = await lock_rows(db, ip=sprayer.headers["X-Forwarded-For"])
    assert row["details"] == {"scope": "ip", "lock_seconds": LOCK}
    assert row["actor_user_id"] is None
    assert row["target_user_id"] is None

    guesser = Caller(client)
    for _ in range(IP_LIMIT):
        problem(await guesser.refresh(uuid.uuid4().hex), 401, "unauthorized")
    pair = (await victim.login(known)).json()
    locked(await guesser.refresh(pair["refresh_token"]))
    locked(await guesser.login(known))  # the same limiter guards both endpoints
    assert (await victim.refresh(pair["refresh_token"])).status_code == 200


async def test_concurrent_guesses_at_one_account_get_no_more_checks_than_its_limit(
    client: httpx.AsyncClient, db: Database, verified: list[str]
) -> None:
    # Each guess from an address of its own: only the account's count can hold them back.
    known, unknown = await Caller(client).register(), email()
    answers = {
        account: await asyncio.gather(
            *(Caller(client).login(account, f"guess {n}") for n in range(30))
        )
        for account in (known, unknown)
    }
    # The same answers for both, so they never tell which account exists: 401s up to the
    # limit, then 429s, the attempts at once or the lock saying so, as the timing has it.
    for responses in answers.values():
        refused = [response for response in responses if response.status_code != 401]
        assert len(responses) - len(refused) == ACCOUNT_LIMIT
        assert {locked(response)["detail"] for response in refused} <= {BUSY, LOCKED}
    assert len(verified) == 2 * ACCOUNT_LIMIT
    # Then the lock holds even the right password.
    assert locked(await Caller(client).login(known))["detail"] == LOCKED
    async with db.engine.connect() as connection:
        failures = await connection.scalar(
            text(
                "SELECT count(*) FROM audit_events WHERE action = 'auth.login_failed'"
                " AND details->>'email' = :email"
            ),
            {"email": known},
        )
    assert failures == ACCOUNT_LIMIT


async def test_concurrent_guesses_from_one_address_get_no_more_checks_than_its_limit(
    client: httpx.AsyncClient, verified: list[str]
) -> None:
    victim = Caller(client)
    known = await victim.register()
    pair = (await victim.login(known)).json()
    verified.clear()
    sprayer = Caller(client)
    responses = await asyncio.gather(
        *(sprayer.login(email(), "Winter2026!") for _ in range(15)),
        *(sprayer.refresh(uuid.uuid4().hex) for _ in range(15)),
    )
    refused = [response for response in responses if response.status_code != 401]
    assert len(responses) - len(refused) == IP_LIMIT
    for response in refused:
        locked(response)
    assert len(verified) <= IP_LIMIT  # the refreshes among the 401s checked no password
    locked(await sprayer.login(known))
    assert (await victim.refresh(pair["refresh_token"])).status_code == 200


async def test_concurrent_sign_ins_with_the_right_password_all_get_in(
    client: httpx.AsyncClient,
) -> None:
    known = await Caller(client).register()
    responses = await asyncio.gather(*(Caller(client).login(known) for _ in range(ACCOUNT_LIMIT)))
    assert [response.status_code for response in responses] == [200] * ACCOUNT_LIMIT
    assert (await Caller(client).login(known)).status_code == 200  # every place was given back


async def test_ipv6_addresses_are_counted_by_their_64(client: httpx.AsyncClient) -> None:
    prefix = f"2001:db8:{uuid.uuid4().hex[:4]}:1:"
    for host in range(IP_LIMIT):
        caller = Caller(client, f"{prefix}:{host + 1}")
        problem(await caller.login(email(), "not the password"), 401, "unauthorized")
    neighbour = Caller(client, f"{prefix}ffff:0:0:1")
    locked(await neighbour.login(await neighbour.register()))


async def test_a_success_clears_the_account_count(client: httpx.AsyncClient) -> None:
    caller = Caller(client)
    known = await caller.register()
    for _ in range(2):
        for _ in range(ACCOUNT_LIMIT - 1):
            problem(await caller.login(known, "not the password"), 401, "unauthorized")
        assert (await caller.login(known)).status_code == 200


async def test_locks_expire_and_grow_with_each_failure_after_them(
    settings: Settings, db: Database
) -> None:
    short = strict(settings, login_lock_seconds=1, login_max_failures_per_account=2)
    async with serve(short) as url, httpx.AsyncClient(base_url=url) as http:
        caller = Caller(http)
        known = await caller.register()
        for _ in range(2):
            await caller.login(known, "not the password")
        locked(await caller.login(known, "not the password"), longest=1)

        async def first_answer_after_the_lock(password: str) -> httpx.Response:
            for _ in range(100):
                response = await caller.login(known, password)
                if response.status_code != 429:
                    return response
                await asyncio.sleep(0.1)
            raise AssertionError("the lock never ended")

        # The first failure after the lock ends locks again, for twice as long...
        problem(await first_answer_after_the_lock("not the password"), 401, "unauthorized")
        locked(await caller.login(known), longest=2)
        # ...and once that ends too, the right password gets in.
        assert (await first_answer_after_the_lock(PASSWORD)).status_code == 200

    rows = await lock_rows(db, ip=caller.headers["X-Forwarded-For"])
    assert [row["details"]["lock_seconds"] for row in rows] == [1, 2]


async def test_lock_lengths_double_up_to_the_window(settings: Settings, redis: ArqRedis) -> None:
    tight = strict(
        settings,
        login_max_failures_per_account=2,
        login_max_failures_per_ip=100,
        login_failure_window=300,
    )
    ip, account = address(), email()
    started = [await lockout.Attempt(redis, tight, email=account, ip=ip).fail() for _ in range(6)]
    assert started == [
        [],
        [lockout.Lock("account", 60)],
        [lockout.Lock("account", 120)],
        [lockout.Lock("account", 240)],
        [lockout.Lock("account", 300)],
        [lockout.Lock("account", 300)],
    ]


async def test_redis_down_fails_open(settings: Settings) -> None:
    """Losing Redis must not lock everyone out: logins work, failures stay plain 401s."""
    broken = strict(settings, redis_url="redis://127.0.0.1:1/0")
    async with serve(broken) as url, httpx.AsyncClient(base_url=url) as http:
        caller = Caller(http)
        known = await caller.register()
        for _ in range(ACCOUNT_LIMIT + 1):
            problem(await caller.login(known, "not the password"), 401, "unauthorized")
        assert (await caller.login(known)).status_code == 200
    dead = connect("redis://127.0.0.1:1/0")
    try:
        async with lockout.attempt(dead, broken, email=known, ip="192.0.2.1") as attempt:
            assert await attempt.fail() == []
    finally:
        await dead.aclose()
