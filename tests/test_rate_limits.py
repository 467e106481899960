"""The shared rate limits (``bot.services.rate_limits``): fixed windows, per subject, in the
database (both dialects) and in Redis, and the purge of passed windows."""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlmodel import select

from bot.clock import FrozenClock
from bot.db import SessionFactory
from bot.services.rate_limits import (
    Limit,
    RateLimiter,
    RedisRateLimiter,
    SqlRateLimiter,
    purge_rate_counters,
    rate_limiter,
)
from models.rate_limit import RateCounter

REDIS_URL = os.environ.get("LIANKA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def three_a_minute(limiter: RateLimiter, clock: FrozenClock) -> None:
    limit = Limit(f"test-{secrets.token_hex(4)}", 3, timedelta(minutes=1))
    start = clock.now().replace(second=0, microsecond=0)
    hits = [
        await limiter.hit(limit, "198.51.100.1", start + timedelta(seconds=n)) for n in range(4)
    ]
    assert hits == [True, True, True, False]
    assert await limiter.remaining(limit, "198.51.100.1", start) == 0
    assert await limiter.hit(limit, "198.51.100.2", start)  # another address counts on its own
    assert await limiter.remaining(limit, "198.51.100.2", start) == 2
    later = start + timedelta(minutes=1)
    assert await limiter.hit(limit, "198.51.100.1", later)  # the next window


@pytest.mark.both_databases
async def test_the_database_counts_hits_per_subject_and_window_keeping_only_a_keyed_hash(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    limiter = rate_limiter(redis_url=None, sessions=sessions)
    assert isinstance(limiter, SqlRateLimiter)
    await three_a_minute(limiter, clock)
    async with sessions() as session:
        rows = (await session.exec(select(RateCounter))).all()
    assert rows and all("198.51.100" not in row.key for row in rows)  # only a hash is kept
    # keyed: the plain SHA-256 of an address is undone by trying every IPv4 address
    for address in ("198.51.100.1", "198.51.100.2"):
        plain = hashlib.sha256(address.encode()).hexdigest()
        assert all(plain not in row.key for row in rows)
    assert await purge_rate_counters(sessions, clock.now() + timedelta(minutes=5)) == len(rows)


@asynccontextmanager
async def redis_limiter() -> AsyncIterator[RateLimiter]:
    """The limiter on the test Redis; the test skipped when it is out of reach (failed when
    ``LIANKA_REQUIRE_SERVICES`` says it must be there)."""
    probe = Redis.from_url(REDIS_URL)
    try:
        await probe.ping()
    except (RedisConnectionError, OSError) as error:
        if os.environ.get("LIANKA_REQUIRE_SERVICES") == "1":
            pytest.fail(f"Redis is not reachable: {error}")
        pytest.skip(f"Redis is not reachable: {error}")
    finally:
        await probe.aclose()
    limiter = rate_limiter(redis_url=REDIS_URL, sessions=None)  # type: ignore[arg-type]
    assert isinstance(limiter, RedisRateLimiter)
    try:
        yield limiter
    finally:
        await limiter.close()


@pytest.mark.redis
async def test_redis_counts_hits_per_subject_and_window(clock: FrozenClock) -> None:
    async with redis_limiter() as limiter:
        await three_a_minute(limiter, clock)


async def a_hit_given_back(limiter: RateLimiter, clock: FrozenClock) -> None:
    limit = Limit(f"test-{secrets.token_hex(4)}", 2, timedelta(minutes=1))
    now = clock.now()
    assert await limiter.hit(limit, "198.51.100.1", now)
    await limiter.give_back(limit, "198.51.100.1", now)
    assert await limiter.remaining(limit, "198.51.100.1", now) == 2
    await limiter.give_back(limit, "198.51.100.1", now)  # never below nothing
    await limiter.give_back(limit, "198.51.100.9", now)  # nor one never counted
    assert await limiter.remaining(limit, "198.51.100.9", now) == 2
    assert [await limiter.hit(limit, "198.51.100.1", now) for _ in range(3)] == [True, True, False]


@pytest.mark.both_databases
async def test_the_database_gives_back_a_hit_and_never_goes_below_nothing(
    sessions: SessionFactory, clock: FrozenClock
) -> None:
    await a_hit_given_back(SqlRateLimiter(sessions), clock)


@pytest.mark.redis
async def test_redis_gives_back_a_hit_and_never_goes_below_nothing(clock: FrozenClock) -> None:
    async with redis_limiter() as limiter:
        await a_hit_given_back(limiter, clock)


async def test_two_instances_share_the_count(sessions: SessionFactory, clock: FrozenClock) -> None:
    one, two = SqlRateLimiter(sessions), SqlRateLimiter(sessions)  # two instances, one database
    limit = Limit("test-shared", 2, timedelta(minutes=1))
    assert await one.hit(limit, "203.0.113.9", clock.now())
    assert await two.hit(limit, "203.0.113.9", clock.now())
    assert not await one.hit(limit, "203.0.113.9", clock.now())


async def test_redis_out_of_reach_lets_attempts_through(
    clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = RedisRateLimiter("redis://127.0.0.1:9/0")  # nothing listens on the discard port
    try:
        limit = Limit("test-down", 1, timedelta(minutes=1))
        assert await limiter.hit(limit, "198.51.100.1", clock.now())
        assert await limiter.hit(limit, "198.51.100.1", clock.now())
    finally:
        await limiter.close()
    assert "Redis unavailable" in caplog.text and "198.51.100.1" not in caplog.text
