"""Conversation state (aiogram FSM) that survives a restart: in the database, or in Redis.

The SQL storage writes in its own short transactions. Handlers therefore call it only after their
use case has committed (use cases commit before they return), never in the middle of one.
"""

from __future__ import annotations

import copy
import json
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from aiogram.exceptions import DataNotDictLikeError
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import (
    BaseEventIsolation,
    BaseStorage,
    DefaultKeyBuilder,
    StateType,
    StorageKey,
)
from aiogram.fsm.storage.memory import SimpleEventIsolation
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import select

from bot.db import SessionFactory
from bot.settings import Settings
from models.fsm import FsmRecord


class SqlStorage(BaseStorage):
    """FSM state and draft data in the ``fsm_records`` table. Every change is written at once;
    reads come from a cache of the ``cache_size`` conversations used last, so the table is read
    only for a conversation this process has not seen since it started. The database storage
    serves one process (several instances keep their state in Redis)."""

    def __init__(self, sessions: SessionFactory, *, cache_size: int = 10_000) -> None:
        self._sessions = sessions
        self._keys = DefaultKeyBuilder(with_bot_id=True, with_destiny=True)
        self._cache: OrderedDict[str, tuple[str | None, dict[str, Any]]] = OrderedDict()
        self._cache_size = cache_size

    def _key(self, key: StorageKey) -> str:
        return self._keys.build(key)

    async def _upsert(self, key: StorageKey, **values: Any) -> None:
        values["updated_at"] = datetime.now(UTC)
        table = FsmRecord.__table__  # type: ignore[attr-defined]
        record_key = self._key(key)
        async with self._sessions() as session:
            dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
            insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
            defaults: dict[str, Any] = {"state": None, "data": {}}
            statement = insert.values(key=record_key, **(defaults | values))
            statement = statement.on_conflict_do_update(index_elements=["key"], set_=values)
            await session.exec(statement)
            await session.commit()
        cached = self._cache.get(record_key)
        if cached is not None:
            state, data = cached
            self._remember(record_key, values.get("state", state), values.get("data", data))

    def _remember(self, record_key: str, state: str | None, data: dict[str, Any]) -> None:
        self._cache[record_key] = (state, data)
        self._cache.move_to_end(record_key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def _record(self, key: StorageKey) -> tuple[str | None, dict[str, Any]]:
        record_key = self._key(key)
        cached = self._cache.get(record_key)
        if cached is None:
            async with self._sessions() as session:
                record = (
                    await session.exec(select(FsmRecord).where(FsmRecord.key == record_key))
                ).first()
            cached = (record.state, dict(record.data)) if record else (None, {})
        self._remember(record_key, *cached)
        return cached

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        await self._upsert(key, state=state.state if isinstance(state, State) else state)

    async def get_state(self, key: StorageKey) -> str | None:
        state, _ = await self._record(key)
        return state

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        if not isinstance(data, dict):
            msg = f"Data must be a dict or dict-like object, got {type(data).__name__}"
            raise DataNotDictLikeError(msg)
        # as the JSON column will give it back (tuples become lists, keys strings)
        await self._upsert(key, data=json.loads(json.dumps(data)))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        _, data = await self._record(key)
        return copy.deepcopy(data)

    async def close(self) -> None:
        """Nothing to close: sessions are opened per call."""


def create_storage(settings: Settings, sessions: SessionFactory) -> BaseStorage:
    """Redis when ``LIANKA_REDIS_URL`` is set (several instances), else the database."""
    if settings.redis_url:
        from aiogram.fsm.storage.redis import RedisStorage

        return RedisStorage.from_url(
            settings.redis_url, key_builder=DefaultKeyBuilder(with_bot_id=True, with_destiny=True)
        )
    return SqlStorage(sessions)


def create_events_isolation(settings: Settings) -> BaseEventIsolation:
    """One user's updates are handled one at a time, in order: a Redis lock across instances
    when ``LIANKA_REDIS_URL`` is set, else an in-process lock."""
    if settings.redis_url:
        from aiogram.fsm.storage.redis import RedisEventIsolation

        return RedisEventIsolation.from_url(
            settings.redis_url, key_builder=DefaultKeyBuilder(with_bot_id=True, with_destiny=True)
        )
    return SimpleEventIsolation()
