"""Conversation state (aiogram FSM) that survives a restart: in the database, or in Redis.

The SQL storage writes in its own short transactions. Handlers therefore call it only after their
use case has committed (use cases commit before they return), never in the middle of one.
"""

from __future__ import annotations

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
    """FSM state and draft data in the ``fsm_records`` table."""

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions
        self._keys = DefaultKeyBuilder(with_bot_id=True, with_destiny=True)

    def _key(self, key: StorageKey) -> str:
        return self._keys.build(key)

    async def _upsert(self, key: StorageKey, **values: Any) -> None:
        values["updated_at"] = datetime.now(UTC)
        table = FsmRecord.__table__  # type: ignore[attr-defined]
        async with self._sessions() as session:
            dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
            insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
            defaults: dict[str, Any] = {"state": None, "data": {}}
            statement = insert.values(key=self._key(key), **(defaults | values))
            statement = statement.on_conflict_do_update(index_elements=["key"], set_=values)
            await session.exec(statement)
            await session.commit()

    async def _record(self, key: StorageKey) -> FsmRecord | None:
        async with self._sessions() as session:
            return (
                await session.exec(select(FsmRecord).where(FsmRecord.key == self._key(key)))
            ).first()

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        await self._upsert(key, state=state.state if isinstance(state, State) else state)

    async def get_state(self, key: StorageKey) -> str | None:
        record = await self._record(key)
        return record.state if record else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        if not isinstance(data, dict):
            msg = f"Data must be a dict or dict-like object, got {type(data).__name__}"
            raise DataNotDictLikeError(msg)
        await self._upsert(key, data=dict(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        record = await self._record(key)
        return dict(record.data) if record else {}

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
