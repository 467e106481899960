"""Rate limits that several instances share: in Redis when ``LIANKA_REDIS_URL`` is set, else in
the database (``rate_counters``).

A limit is a fixed window: at most ``count`` hits of one subject in each ``window`` (a burst
across a window's edge may reach twice that, which is enough to stop flooding and guessing).
Subjects (a client address, a card) are kept only as a SHA-256 in the counter's key, and a
counter lives no longer than its window.

API::

    limiter = rate_limiter(redis_url=settings.redis_url, sessions=sessions)
    if not await limiter.hit(WEB_FORMS_PER_ADDRESS, client, now):
        ...  # refused: say so, do nothing
    await limiter.close()  # at shutdown

``hit`` counts the attempt and says whether it is within the limit; ``remaining`` only looks;
``give_back`` takes back one hit of the same window (an attempt counted before it was checked
that turned out not to count: a right receipt code). Each call is its own short transaction on a
connection of its own: call them while holding no other connection of the pool (a session that
has read something), or a burst of requests each holding one and waiting for another empties it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select

from bot.db import SessionFactory
from models import keys
from models.rate_limit import RateCounter

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``count`` hits per subject in each ``window``; ``scope`` names the limit."""

    scope: str
    count: int
    window: timedelta


def _counter(limit: Limit, subject: str, now: datetime) -> tuple[str, datetime]:
    """The counter's key (limit, the subject's keyed hash, the window) and when it is
    worthless. The subject (a client address, a card's token, a browser's session) is kept only
    as an HMAC under the audit key's "rate-limit" sub-key: a plain SHA-256 of an IPv4 address is
    undone by trying all four billion, and a copy of the counters would then say from which
    address forms were sent in which minute."""
    seconds = max(1, int(limit.window.total_seconds()))
    window = int(now.timestamp()) // seconds
    digest = keys.current().keyed_hash("rate-limit", subject)
    expires = datetime.fromtimestamp((window + 1) * seconds, UTC)
    return f"lianka:rl:{limit.scope}:{digest}:{window}", expires


class RateLimiter(Protocol):
    async def hit(self, limit: Limit, subject: str, now: datetime) -> bool:
        """Count one attempt of ``subject``; whether it is within ``limit``."""
        ...

    async def remaining(self, limit: Limit, subject: str, now: datetime) -> int:
        """How many attempts ``subject`` has left in this window, without counting one."""
        ...

    async def give_back(self, limit: Limit, subject: str, now: datetime) -> None:
        """Take back one hit of ``subject`` in the window of ``now`` (never below none)."""
        ...

    async def close(self) -> None: ...


class SqlRateLimiter:
    """Counters in the database: one upsert per hit, in its own short transaction."""

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    async def hit(self, limit: Limit, subject: str, now: datetime) -> bool:
        key, expires = _counter(limit, subject, now)
        table = RateCounter.__table__  # type: ignore[attr-defined]
        async with self._sessions() as session:
            dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
            insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
            statement = (
                insert.values(key=key, count=1, expires_at=expires)
                .on_conflict_do_update(index_elements=["key"], set_={"count": table.c.count + 1})
                .returning(table.c.count)
            )
            count = int((await session.exec(statement)).scalar_one())
            await session.commit()
        return count <= limit.count

    async def remaining(self, limit: Limit, subject: str, now: datetime) -> int:
        key, _ = _counter(limit, subject, now)
        async with self._sessions() as session:
            count = (
                await session.exec(select(RateCounter.count).where(RateCounter.key == key))
            ).first()
        return max(0, limit.count - (count or 0))

    async def give_back(self, limit: Limit, subject: str, now: datetime) -> None:
        key, _ = _counter(limit, subject, now)
        async with self._sessions() as session:
            await session.exec(
                update(RateCounter)
                .where(col(RateCounter.key) == key, col(RateCounter.count) > 0)
                .values(count=col(RateCounter.count) - 1)
            )
            await session.commit()

    async def close(self) -> None:
        """Nothing to close: the sessions belong to the process."""


_GIVE_BACK = """
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then
    return redis.call('DECR', KEYS[1])
end
return 0
"""
"""One hit taken back, in one step on the server: a counter at none or gone stays so (``DECR``
keeps its expiry)."""


class RedisRateLimiter:
    """Counters in Redis: ``INCR`` and an expiry at the window's end (relative to ``now``, so
    a clock that is not the server's counts too), in one round trip. Redis out of reach lets
    the attempt through (logged): the limits stop floods, they must not stop reports."""

    def __init__(self, url: str) -> None:
        self._redis = Redis.from_url(url)
        self._give_back = self._redis.register_script(_GIVE_BACK)

    async def hit(self, limit: Limit, subject: str, now: datetime) -> bool:
        key, expires = _counter(limit, subject, now)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, int((expires - now).total_seconds()) + 1)
                count, _ = await pipe.execute()
        except (RedisError, OSError) as error:  # a report must not fail for want of a counter
            logger.warning("rate limit %s not counted: Redis unavailable (%s)", limit.scope, error)
            return True
        return int(count) <= limit.count

    async def remaining(self, limit: Limit, subject: str, now: datetime) -> int:
        key, _ = _counter(limit, subject, now)
        count = await self._redis.get(key)
        return max(0, limit.count - int(count or 0))

    async def give_back(self, limit: Limit, subject: str, now: datetime) -> None:
        key, _ = _counter(limit, subject, now)
        try:
            await self._give_back(keys=[key])
        except (RedisError, OSError) as error:  # the attempt stays counted: the safe side
            logger.warning(
                "rate limit %s not given back: Redis unavailable (%s)", limit.scope, error
            )

    async def close(self) -> None:
        await self._redis.aclose()


def rate_limiter(*, redis_url: str | None, sessions: SessionFactory) -> RateLimiter:
    """Redis when configured (several instances), else the database (also shared)."""
    if redis_url:
        return RedisRateLimiter(redis_url)
    return SqlRateLimiter(sessions)


async def purge_rate_counters(sessions: SessionFactory, now: datetime) -> int:
    """Hourly: delete the database's counters of windows that have passed."""
    async with sessions() as session:
        result = await session.exec(delete(RateCounter).where(col(RateCounter.expires_at) <= now))
        await session.commit()
    return int(result.rowcount or 0)
