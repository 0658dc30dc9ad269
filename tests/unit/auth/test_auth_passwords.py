"""Password hashing: argon2id at the OWASP minimum, failures as False, work off the loop."""

from __future__ import annotations

import asyncio
import time

from argon2 import PasswordHasher

from shared.auth import passwords

PASSWORD = "correct horse battery staple"


def test_hash_is_argon2id_with_the_configured_parameters() -> None:
    hashed = passwords.hash_password(PASSWORD)
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD not in hashed
    assert passwords.hash_password(PASSWORD) != hashed  # fresh salt each time


def test_verify_accepts_the_password_and_refuses_anything_else() -> None:
    hashed = passwords.hash_password(PASSWORD)
    assert passwords.verify_password(hashed, PASSWORD)
    assert not passwords.verify_password(hashed, PASSWORD + "!")
    assert not passwords.verify_password(hashed, "")


def test_verify_never_raises_on_an_unusable_hash() -> None:
    for broken in ("", "not-a-hash", "$argon2id$v=19$m=1,t=1,p=1$bad$bad", "$argon2id$ünïcode"):
        assert not passwords.verify_password(broken, PASSWORD)


def test_needs_rehash_flags_weaker_parameters_and_garbage() -> None:
    current = passwords.hash_password(PASSWORD)
    weaker = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    assert not passwords.needs_rehash(current)
    assert passwords.needs_rehash(weaker)
    assert passwords.needs_rehash("not-a-hash")
    assert passwords.verify_password(weaker, PASSWORD)  # old hashes still log in


async def test_async_wrappers_leave_the_event_loop_free() -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    hashed = await passwords.hash_password_async(PASSWORD)
    assert await passwords.verify_password_async(hashed, PASSWORD)
    assert not await passwords.verify_password_async(hashed, "wrong password!")
    elapsed = time.perf_counter() - started
    task.cancel()
    # The loop kept ticking while three hashes ran in threads (~every 5 ms).
    assert ticks >= max(3, int(elapsed / 0.005) // 3)


async def test_dummy_verification_costs_about_as_much_as_a_real_one() -> None:
    await passwords.verify_dummy_async(PASSWORD)  # builds the cached dummy hash once
    hashed = passwords.hash_password(PASSWORD)
    started = time.perf_counter()
    await passwords.verify_password_async(hashed, "wrong password!")
    real = time.perf_counter() - started
    started = time.perf_counter()
    await passwords.verify_dummy_async("wrong password!")
    dummy = time.perf_counter() - started
    assert dummy > real / 3
