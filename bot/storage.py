"""Conversation state (aiogram FSM) that survives a restart: in the database, or in Redis.

Within an update, the SQL storage keeps the handler's writes (``deferred_writes``) and they are
written with the update's record (``bot.middlewares.UpdateDeduplication``): in the transaction of
the handler's use case, or in one transaction when the handler returns. A step of a draft and the
record that its update was handled then commit together, so a crash either loses both (the
update, delivered again, is handled again from the same step) or neither. Outside an update (the
CLI, jobs) it writes at once, in its own short transaction.

Within an update the SQL storage also reads through the update's own session
(``reading_through``), and each conversation's record once: the update holds its person's lock
(the events isolation) from before that read to its end, and the handler's own writes are the
deferred ones, read back first, and what it commits replaces what it read (``committed``); so
the record read at the start stays what the database has.

The first read of a record in an update also asks whether the update itself was handled before
(``UpdateRecord``): one statement where the FSM read and the deduplication's look-up
(``bot.middlewares.UpdateDeduplication``) were two. Both come after the person's lock.

Redis cannot join the database's transaction, so with Redis (``DeferredStorage``) the writes are
kept in the update's record and written to Redis after it commits; an update a crash cut off
between the two has them written when it is delivered again, before anything else is done.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
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
from sqlalchemy.sql.dml import Insert
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import SessionFactory
from bot.settings import Settings
from models.fsm import FsmRecord
from models.processed_update import ProcessedUpdate

Pending = dict[str, dict[str, Any]]
"""Deferred writes: storage key → the record's ``state`` and ``data`` as they now stand."""


@dataclass(slots=True)
class UpdateRecord:
    """The update being handled, and what the first record read found of its own record:
    ``found`` False until then; ``finished`` None when there is no record of it."""

    bot_id: int
    update_id: int
    found: bool = False
    finished: bool | None = None


_pending: ContextVar[Pending | None] = ContextVar("lianka_fsm_pending", default=None)
_reader: ContextVar[AsyncSession | None] = ContextVar("lianka_fsm_reader", default=None)
_loaded: ContextVar[dict[str, dict[str, Any] | None] | None] = ContextVar(
    "lianka_fsm_loaded", default=None
)
"""The records read in this update: storage key → ``state`` and ``data`` (None: no record)."""
_update: ContextVar[UpdateRecord | None] = ContextVar("lianka_fsm_update", default=None)


def handling_update(bot_id: int, update_id: int) -> UpdateRecord:
    """The update the block being entered handles (``reading_through``'s ``update``): the first
    record read looks its record up too (``UpdateRecord``)."""
    return UpdateRecord(bot_id, update_id)


@contextmanager
def reading_through(session: AsyncSession, update: UpdateRecord | None = None) -> Iterator[None]:
    """While the block runs (one update), ``SqlStorage`` reads through ``session`` (the
    update's own: an update then holds one connection, not two), and each record once; the
    first read also looks up ``update``'s record."""
    reader = _reader.set(session)
    loaded = _loaded.set({})
    current = _update.set(update)
    try:
        yield
    finally:
        _update.reset(current)
        _loaded.reset(loaded)
        _reader.reset(reader)


@contextmanager
def deferred_writes(session: AsyncSession) -> Iterator[Pending]:
    """While the block runs, ``SqlStorage`` keeps its writes here (and reads them back) instead
    of writing them, and reads through ``session`` (``reading_through``, unless a block of it
    for the same session is already running); the caller writes them with ``fsm_upserts``."""
    pending: Pending = {}
    token = _pending.set(pending)
    try:
        if _reader.get() is session:
            yield pending
        else:
            with reading_through(session):
                yield pending
    finally:
        _pending.reset(token)


def update_reads() -> dict[str, dict[str, Any] | None] | None:
    """The records this update has read (``reading_through``), or None outside an update: the
    middleware tells it of what it committed (``committed``)."""
    return _loaded.get()


def json_copy(value: Any) -> Any:
    """A copy of ``value`` as JSON gives it back (dicts, lists and scalars: what the table's
    column and ``set_data`` hold), equal to ``copy.deepcopy``'s and several times quicker."""
    if isinstance(value, dict):
        return {key: json_copy(each) for key, each in value.items()}
    if isinstance(value, list):
        return [json_copy(each) for each in value]
    return value


def committed(reads: dict[str, dict[str, Any] | None] | None, pending: Pending) -> None:
    """``pending`` was written and committed: the update's later reads, and the records its later
    writes start from, are those, not the records read before (which a partial write would
    otherwise bring back)."""
    if reads is None:
        return
    for key, record in pending.items():
        reads[key] = {"state": record["state"], "data": json_copy(record["data"])}


Write = tuple[Insert, dict[str, Any]]
"""A statement and its parameters."""


def _upsert(dialect: str) -> Insert:
    """INSERT of a record, or UPDATE of the existing row: built once, run with parameters."""
    table = FsmRecord.__table__  # type: ignore[attr-defined]
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    new = statement.excluded
    changed = {"state": new.state, "data": new.data, "updated_at": new.updated_at}
    return statement.on_conflict_do_update(index_elements=["key"], set_=changed)


_UPSERTS = {dialect: _upsert(dialect) for dialect in ("sqlite", "postgresql")}


def fsm_upserts(dialect: str, pending: Pending) -> list[Write]:
    """The statements that write ``pending`` records (insert, or update the existing row)."""
    statement = _UPSERTS["postgresql" if dialect == "postgresql" else "sqlite"]
    now = datetime.now(UTC)
    return [
        (
            statement,
            {"key": key, "state": record["state"], "data": record["data"], "updated_at": now},
        )
        for key, record in pending.items()
    ]


def _read_statement() -> sa.Select[Any]:
    """``_read_with_update``'s statement, built once (``key``, ``bot_id``, ``update_id``)."""
    records = FsmRecord.__table__  # type: ignore[attr-defined]
    handled = ProcessedUpdate.__table__  # type: ignore[attr-defined]
    finished = (
        sa.select(handled.c.finished)
        .where(
            handled.c.bot_id == sa.bindparam("bot_id"),
            handled.c.update_id == sa.bindparam("update_id"),
        )
        .scalar_subquery()
    )
    nothing = sa.select(sa.literal(1).label("one")).subquery()
    return sa.select(records.c.state, records.c.data, records.c.key, finished).select_from(
        nothing.outerjoin(records, records.c.key == sa.bindparam("key"))
    )


_READ = _read_statement()


async def _read_with_update(
    session: AsyncSession, key: str, update: UpdateRecord
) -> dict[str, Any] | None:
    """The record under ``key`` (or None), and whether ``update`` was handled before, in one
    statement: a row of nothing, joined to the record if there is one."""
    values = {"key": key, "bot_id": update.bot_id, "update_id": update.update_id}
    row = (await (await session.connection()).execute(_READ, values)).one()
    update.found = True
    update.finished = None if row[3] is None else bool(row[3])
    return None if row[2] is None else {"state": row[0], "data": row[1]}


def looked_up(bot_id: int, update_id: int) -> UpdateRecord | None:
    """What this update's first record read found of the update's record, if it read one."""
    update = _update.get()
    if update is None or not update.found:
        return None
    if (update.bot_id, update.update_id) != (bot_id, update_id):
        return None
    return update


class SqlStorage(BaseStorage):
    """FSM state and draft data in the ``fsm_records`` table."""

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions
        self._keys = DefaultKeyBuilder(with_bot_id=True, with_destiny=True)

    def _key(self, key: StorageKey) -> str:
        return self._keys.build(key)

    async def _upsert(self, key: StorageKey, **values: Any) -> None:
        pending = _pending.get()
        if pending is not None:
            built = self._key(key)
            if built not in pending:
                record = await self._record(key)
                pending[built] = {
                    "state": record["state"] if record else None,
                    "data": json_copy(dict(record["data"])) if record else {},
                }
            pending[built].update(values)  # made for this write (``set_state``, ``set_data``)
            return
        loaded = _loaded.get()
        if loaded is not None:
            loaded.pop(self._key(key), None)  # written at once below: read it again
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

    async def _record(self, key: StorageKey) -> dict[str, Any] | None:
        """The stored record's ``state`` and ``data`` (not to be changed), or None."""
        built = self._key(key)
        loaded = _loaded.get()
        if loaded is not None and built in loaded:
            return loaded[built]
        reader = _reader.get()
        update = _update.get()
        if reader is not None and update is not None and not update.found:
            record = await _read_with_update(reader, built, update)
        else:
            statement = select(FsmRecord.state, FsmRecord.data).where(FsmRecord.key == built)
            if reader is not None:
                row = (await reader.exec(statement)).first()
            else:
                async with self._sessions() as session:
                    row = (await session.exec(statement)).first()
            record = None if row is None else {"state": row[0], "data": row[1]}
        if loaded is not None:
            loaded[built] = record
        return record

    def _deferred(self, key: StorageKey) -> dict[str, Any] | None:
        pending = _pending.get()
        return pending.get(self._key(key)) if pending is not None else None

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        await self._upsert(key, state=state.state if isinstance(state, State) else state)

    async def get_state(self, key: StorageKey) -> str | None:
        deferred = self._deferred(key)
        if deferred is not None:
            state: str | None = deferred["state"]
            return state
        record = await self._record(key)
        return record["state"] if record else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        if not isinstance(data, dict):
            msg = f"Data must be a dict or dict-like object, got {type(data).__name__}"
            raise DataNotDictLikeError(msg)
        # as the JSON column will give it back (tuples become lists, keys strings)
        await self._upsert(key, data=json.loads(json.dumps(data)))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        deferred = self._deferred(key)
        record = deferred if deferred is not None else await self._record(key)
        data: dict[str, Any] = json_copy(dict(record["data"])) if record else {}
        return data

    async def close(self) -> None:
        """Nothing to close: sessions are opened per call."""


class DeferredStorage(BaseStorage):
    """A conversation-state store outside the database (Redis) whose writes, within an update,
    wait for the update's record: the middleware keeps them in that record
    (``processed_updates.fsm_writes``) in the transaction that records the update, writes them
    here once it has committed, then marks the update finished. A crash in between leaves the
    update recorded and unfinished: when Telegram delivers it again, the writes are made then
    (they are the values the state and draft are to have, so writing them twice is harmless).
    Outside an update (the CLI, jobs) reads and writes go straight to ``inner``."""

    def __init__(self, inner: BaseStorage) -> None:
        self.inner = inner
        self._keys = DefaultKeyBuilder(with_bot_id=True, with_destiny=True)

    async def _held(self, key: StorageKey) -> dict[str, Any] | None:
        pending = _pending.get()
        if pending is None:
            return None
        built = self._keys.build(key)
        if built not in pending:
            pending[built] = {
                "key": dataclasses.asdict(key),
                "state": await self.inner.get_state(key),
                "data": await self.inner.get_data(key),
            }
        return pending[built]

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        held = await self._held(key)
        if held is None:
            await self.inner.set_state(key, state)
        else:
            held["state"] = state.state if isinstance(state, State) else state

    async def get_state(self, key: StorageKey) -> str | None:
        held = await self._held(key)
        if held is None:
            return await self.inner.get_state(key)
        state: str | None = held["state"]
        return state

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        held = await self._held(key)
        if held is None:
            await self.inner.set_data(key, data)
            return
        if not isinstance(data, dict):
            msg = f"Data must be a dict or dict-like object, got {type(data).__name__}"
            raise DataNotDictLikeError(msg)
        held["data"] = json.loads(json.dumps(data))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        held = await self._held(key)
        if held is None:
            return await self.inner.get_data(key)
        return copy.deepcopy(dict(held["data"]))

    async def close(self) -> None:
        await self.inner.close()


async def write_deferred(storage: BaseStorage, writes: Mapping[str, Any]) -> None:
    """Write what ``DeferredStorage`` held for an update: the draft first, then the state, so
    the store never has a conversation state without its draft."""
    inner = storage.inner if isinstance(storage, DeferredStorage) else storage
    for record in writes.values():
        key = StorageKey(**record["key"])
        await inner.set_data(key, record["data"])
        await inner.set_state(key, record["state"])


DRAFT_DAYS = 7
"""``[retention] draft_days`` by default: a conversation untouched this long is forgotten."""


def create_storage(
    settings: Settings, sessions: SessionFactory, *, draft_days: int = DRAFT_DAYS
) -> BaseStorage:
    """Redis when ``LIANKA_REDIS_URL`` is set (several instances), else the database. In Redis
    a conversation's state and draft expire ``draft_days`` after their last write (a TTL on
    each key); in the database ``lianka purge`` and its daily job delete them
    (``bot.services.retention``)."""
    if settings.redis_url:
        from aiogram.fsm.storage.redis import RedisStorage

        ttl = timedelta(days=draft_days)
        return DeferredStorage(
            RedisStorage.from_url(
                settings.redis_url,
                key_builder=DefaultKeyBuilder(with_bot_id=True, with_destiny=True),
                state_ttl=ttl,
                data_ttl=ttl,
            )
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
