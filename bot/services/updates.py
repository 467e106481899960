"""Telegram updates already handled: recorded so that one delivered again is skipped, pruned
once Telegram can no longer deliver them again."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Insert, Update, delete, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.base import Executable
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import SessionFactory
from models.processed_update import ProcessedUpdate

logger = logging.getLogger(__name__)

KEEP_PROCESSED_UPDATES = timedelta(days=3)
"""Telegram keeps an unconfirmed update for 24 hours; three days leave room for a long outage."""


async def get_processed_update(
    session: AsyncSession, bot_id: int, update_id: int
) -> ProcessedUpdate | None:
    return await session.get(ProcessedUpdate, (bot_id, update_id))


async def finish_update(
    session: AsyncSession,
    bot_id: int,
    update_id: int,
    now: datetime,
    *,
    recorded: bool,
    writes: Sequence[tuple[Executable, dict[str, Any]]] = (),
    clean: bool = False,
) -> None:
    """The handler of an update returned: its last ``writes`` (conversation state) and the mark
    that it finished, in one transaction; recorded here if no use case of it committed. Anything
    the handler left uncommitted is dropped, as closing the session would; ``clean``: the caller
    knows it left nothing (it only read), and the transaction goes on."""
    if not clean:
        await session.rollback()
    connection = await session.connection()
    for statement, values in writes:
        await connection.execute(statement, values)
    try:
        await _write_record(
            session, bot_id, update_id, now, recorded=recorded, finished=True, fsm_writes=None
        )
        await session.commit()
    except IntegrityError:  # another instance handled the same delivery at the same time
        await session.rollback()
        logger.info("update %s was recorded by another handler first", update_id)


async def hold_update(
    session: AsyncSession,
    bot_id: int,
    update_id: int,
    now: datetime,
    *,
    recorded: bool,
    fsm_writes: dict[str, Any],
) -> None:
    """The handler of an update returned, and its conversation state goes to a store outside
    the database: the record, not yet finished, with the state to write there, in one
    transaction (``finish_update`` follows once the store has it)."""
    await session.rollback()
    await _write_record(session, bot_id, update_id, now, recorded=recorded, fsm_writes=fsm_writes)
    await session.commit()


_RECORDS = ProcessedUpdate.__table__  # type: ignore[attr-defined]


def record_of(bot_id: int, update_id: int) -> Update:
    """An UPDATE of one update's record; ``.values(…)`` says what changes."""
    return update(_RECORDS).where(_RECORDS.c.bot_id == bot_id, _RECORDS.c.update_id == update_id)


_INSERT_RECORD = insert(_RECORDS)


@dataclass(slots=True)
class UpdateRow:
    """The values of an update's record (``processed_updates``), as ``new_record`` writes
    them: a plain object, a fraction of what building a ``ProcessedUpdate`` costs on every
    update (most steps of a draft never write one: ``bot.middlewares.UpdateDeduplication``)."""

    bot_id: int
    update_id: int
    handled_at: datetime
    finished: bool = False
    fsm_writes: dict[str, Any] | None = None


def new_record(row: UpdateRow) -> tuple[Insert, dict[str, Any]]:
    """The INSERT of ``row``, an update's record, and its values (a plain statement, built
    once: the record is written, never loaded or changed as an object of the session)."""
    return _INSERT_RECORD, {
        "bot_id": row.bot_id,
        "update_id": row.update_id,
        "handled_at": row.handled_at,
        "finished": row.finished,
        "fsm_writes": row.fsm_writes,
    }


async def _write_record(
    session: AsyncSession,
    bot_id: int,
    update_id: int,
    now: datetime,
    *,
    recorded: bool,
    **values: Any,
) -> None:
    """Set ``values`` on the update's record: the row a use case's commit wrote, or a new one."""
    connection = await session.connection()
    if recorded:
        await connection.execute(record_of(bot_id, update_id).values(**values))
    else:
        row = UpdateRow(bot_id=bot_id, update_id=update_id, handled_at=now, **values)
        await connection.execute(*new_record(row))


async def prune_processed_updates(
    sessions: SessionFactory, now: datetime, keep: timedelta = KEEP_PROCESSED_UPDATES
) -> int:
    """Hourly: forget updates older than ``keep``; Telegram no longer delivers them again."""
    async with sessions() as session:
        result = await session.exec(
            delete(ProcessedUpdate).where(col(ProcessedUpdate.handled_at) < now - keep)
        )
        await session.commit()
    return int(result.rowcount or 0)
