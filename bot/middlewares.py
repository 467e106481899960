"""Outer middlewares: plumbing only, no business work; the one commit is the record that an update
was handled (``UpdateDeduplication``).

For a handler author, one update is one commit: the handler calls one use case, which commits
once; the record that the update was handled, and the conversation state the handler set before
that commit, go into the same transaction (``UpdateDeduplication``, ``bot.storage``). State a step
leaves after its use case must be set before it (``handlers.flow.flow_ends`` / ``flow_moves``),
or a crash between the two commits loses it. A handler that commits nothing is recorded when it
returns, with its state. Never commit in a handler or a middleware yourself."""

from __future__ import annotations

import asyncio
import copy
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.dispatcher.middlewares.user_context import EVENT_CHAT_KEY
from aiogram.enums import ChatType
from aiogram.types import TelegramObject, Update
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.db import SessionFactory
from bot.metrics import Metrics
from bot.services.calendar import CalendarCache
from bot.services.updates import (
    UpdateRow,
    finish_update,
    get_processed_update,
    hold_update,
    new_record,
    record_of,
)
from bot.storage import (
    DeferredStorage,
    Pending,
    Write,
    committed,
    deferred_writes,
    fsm_upserts,
    handling_update,
    looked_up,
    reading_through,
    update_reads,
    write_deferred,
)
from models.errors import StaleAction

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class _Writes:
    """Whether the update's handler has written anything not yet committed (``_note_write``)."""

    pending: bool = False


_writes: ContextVar[_Writes | None] = ContextVar("lianka_update_writes", default=None)


def _note_write(**event: Any) -> None:
    """Any statement but a plain read, run while an update's handler runs, marks its writes
    pending until its session commits (a ``text()`` statement counts unless it is a SELECT)."""
    writes = _writes.get()
    if writes is None or writes.pending:
        return
    context = event.get("context")
    dml = context is not None and (context.isinsert or context.isupdate or context.isdelete)
    read = str(event["statement"]).lstrip()[:6].upper() == "SELECT"
    writes.pending = dml or not read


def _note_failure(context: Any) -> None:
    """A statement that failed while an update's handler ran leaves its transaction to be rolled
    back (on PostgreSQL an aborted transaction refuses every later statement), even if the
    handler caught the error and wrote nothing."""
    writes = _writes.get()
    if writes is not None:
        writes.pending = True


def watch_writes(sessions: SessionFactory) -> None:
    """``_note_write`` and ``_note_failure`` on the engine of ``sessions`` (once)."""
    engine = sessions.kw.get("bind")
    if engine is None:
        return
    target = engine.sync_engine
    if not sa_event.contains(target, "before_cursor_execute", _note_write):
        sa_event.listen(target, "before_cursor_execute", _note_write, named=True)
    if not sa_event.contains(target, "handle_error", _note_failure):
        sa_event.listen(target, "handle_error", _note_failure)


class DbSessionMiddleware(BaseMiddleware):
    """One ``AsyncSession`` per update, passed to handlers as ``session``; closed (rolled back if
    uncommitted) when the update is done. The SQL FSM storage reads through it
    (``bot.storage.reading_through``), from the FSM middleware's read of the state on."""

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions
        watch_writes(sessions)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        update = None
        if isinstance(event, Update) and "bot" in data:
            update = handling_update(data["bot"].id, event.update_id)
        async with self._sessions() as session:
            data["session"] = session
            with reading_through(session, update):
                return await handler(event, data)


Resume = Callable[[Update, dict[str, Any]], Awaitable[None]]


class _Mark:
    """Puts the update's row, and the conversation state the handler has set so far, into the
    first transaction the handler's session commits: as rows of the SQL FSM table, or (``held``:
    a store outside the database) as the row's ``fsm_writes``, written to that store later."""

    def __init__(self, row: UpdateRow, pending: Pending | None, *, held: bool) -> None:
        self.row = row
        self.pending = pending
        self.held = held
        self.recorded = False
        self.reads = update_reads()
        self.writes_pending = _Writes()

    def before_commit(self, session: Session) -> None:
        connection = session.connection()  # plain statements: nothing here is an ORM object
        if self.held:
            writes = copy.deepcopy(self.pending) if self.pending else None
            if not self.recorded:
                self.row.fsm_writes = writes
            elif writes:
                connection.execute(
                    record_of(self.row.bot_id, self.row.update_id).values(fsm_writes=writes)
                )
        elif self.pending:
            for statement, values in fsm_upserts(connection.dialect.name, self.pending):
                connection.execute(statement, values)
        if not self.recorded:
            connection.execute(*new_record(self.row))

    def after_commit(self, session: Session) -> None:
        self.recorded = True
        self.writes_pending.pending = False
        if self.pending and not self.held:
            committed(self.reads, self.pending)  # what the update reads from now on
            self.pending.clear()  # written; held writes stay until the store has them

    def detach(self, session: Session) -> None:
        sa_event.remove(session, "before_commit", self.before_commit)
        sa_event.remove(session, "after_commit", self.after_commit)

    def writes(self, dialect: str) -> list[Write]:
        return fsm_upserts(dialect, self.pending) if self.pending and not self.held else []


class UpdateNotFinished(Exception):
    """The handler's work committed, but what finishes the update (its record, or the state held
    for Redis) could not be written. Raised past the error handlers, so Telegram delivers the
    update again (a webhook answered 500, a polled update not confirmed) and that delivery
    finishes it; the person already has the step's reply."""


class UpdateDeduplication(BaseMiddleware):
    """Telegram delivers an update again when it did not hear back (a webhook process killed
    mid-update, polling restarted before the offset was confirmed); such an update is skipped.

    An update is recorded in the first transaction its handler commits, so a crash before that
    commit means it is handled again and a crash after means it is not; an update whose handler
    commits nothing is recorded when its handler returns. With ``defer_fsm`` (the SQL FSM
    storage) the conversation state the handler sets goes into those same transactions, so a step
    of a draft is taken exactly once. With a store outside the database (``held``: a
    ``DeferredStorage`` over Redis) the state is kept in the update's record and written to the
    store after the record commits. A skipped update whose handler a crash cut off after its
    commit has its held state written then, and goes to ``resume`` (确认提交 sends its
    confirmation again). An update ``resume`` has nothing to do for (``resumes`` says which it
    has) is recorded as finished in that first transaction: a second delivery of it would only be
    skipped either way. Runs inside ``DbSessionMiddleware``."""

    def __init__(
        self,
        resume: Resume | None = None,
        *,
        defer_fsm: bool = False,
        held: DeferredStorage | None = None,
        resumes: Callable[[Update], bool] | None = None,
    ) -> None:
        self._resume = resume
        self._resumes = resumes
        self._defer_fsm = defer_fsm or held is not None
        self._held = held

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if not isinstance(event, Update):
            return await handler(event, data)
        session: AsyncSession = data["session"]
        bot_id: int = data["bot"].id
        clock: Clock = data["clock"]
        found = looked_up(bot_id, event.update_id)
        if found is not None and found.finished is None:
            seen = None  # no record: read with the person's conversation (``bot.storage``)
        else:
            seen = await get_processed_update(session, bot_id, event.update_id)
        if seen is not None:
            logger.info("update %s delivered again: skipped", event.update_id)
            if not seen.finished:
                if seen.fsm_writes and self._held is not None:
                    try:
                        await write_deferred(self._held, seen.fsm_writes)
                    except Exception as error:
                        raise UpdateNotFinished(event.update_id) from error
                if self._resume is not None:
                    await self._resume(event, data)
                try:
                    await finish_update(
                        session, bot_id, event.update_id, clock.now(), recorded=True
                    )
                except Exception as error:
                    raise UpdateNotFinished(event.update_id) from error
            return None
        row = UpdateRow(
            bot_id=bot_id,
            update_id=event.update_id,
            handled_at=clock.now(),
            finished=self._done_on_commit(event),
        )
        sync_session = session.sync_session
        with deferred_writes(session) if self._defer_fsm else nullcontext() as pending:
            mark = _Mark(row, pending, held=self._held is not None)
            sa_event.listen(sync_session, "before_commit", mark.before_commit)
            sa_event.listen(sync_session, "after_commit", mark.after_commit)
            watching = _writes.set(mark.writes_pending)
            try:
                try:
                    result = await handler(event, data)
                finally:
                    _writes.reset(watching)
            except Exception:
                # an error reply follows and the update is not delivered again: keep its steps
                mark.detach(sync_session)
                try:
                    await self._finish(session, mark, event.update_id, clock)
                except Exception:
                    logger.exception(
                        "update %s: could not record it after an error", event.update_id
                    )
                raise
            except BaseException:
                mark.detach(sync_session)
                raise
            mark.detach(sync_session)
            # only read since its last commit (or never wrote): no rollback before the record
            clean = not mark.writes_pending.pending and not (
                session.new or session.dirty or session.deleted
            )
            try:
                await self._finish(session, mark, event.update_id, clock, clean=clean)
            except Exception as error:
                raise UpdateNotFinished(event.update_id) from error
        return result

    def _done_on_commit(self, update: Update) -> bool:
        """Whether the update's record may say "finished" from its first commit on: nothing is
        done for it when it is delivered again (no ``resume`` for it, no state held for another
        store), so the reply that follows the commit adds nothing the record must wait for, and
        an update whose use case committed needs no second transaction to be finished."""
        if self._held is not None:
            return False
        return self._resume is None or (self._resumes is not None and not self._resumes(update))

    async def _finish(
        self,
        session: AsyncSession,
        mark: _Mark,
        update_id: int,
        clock: Clock,
        *,
        clean: bool = False,
    ) -> None:
        if mark.recorded and mark.row.finished and not mark.pending and self._held is None:
            return  # finished in its use case's commit; closing the session drops the rest
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        if self._held is not None and mark.pending:
            # the record (with the state to write) first, then the store, then "finished"
            writes = copy.deepcopy(mark.pending)
            await hold_update(
                session,
                mark.row.bot_id,
                update_id,
                clock.now(),
                recorded=mark.recorded,
                fsm_writes=writes,
            )
            await write_deferred(self._held, writes)
            await finish_update(session, mark.row.bot_id, update_id, clock.now(), recorded=True)
            return
        await finish_update(
            session,
            mark.row.bot_id,
            update_id,
            clock.now(),
            recorded=mark.recorded,
            writes=mark.writes(dialect),
            clean=clean,
        )


class PrivateChatsOnly(BaseMiddleware):
    """Lianka talks to people one to one: an update from a group, a supergroup or a channel (a
    staff member who added the bot to one and typed ``/case`` there) is dropped before anything
    reads it, so no case, clue, list or report is ever posted where others read along."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        chat = data.get(EVENT_CHAT_KEY)
        if chat is not None and chat.type != ChatType.PRIVATE:
            logger.info(
                "update %s from a %s chat dropped", getattr(event, "update_id", "?"), chat.type
            )
            return UNHANDLED
        return await handler(event, data)


class UnclaimedButtonMiddleware(BaseMiddleware):
    """A button press no router claimed (an old, foreign or forged button) is answered, so that
    the button does not keep spinning."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        result = await handler(event, data)
        if result is UNHANDLED and isinstance(event, Update) and event.callback_query is not None:
            logger.info("unclaimed button press in update %s", event.update_id)
            await event.callback_query.answer(StaleAction.message, show_alert=True)
        return result


class CalendarMiddleware(BaseMiddleware):
    """Hands handlers the working-day calendar as ``calendar`` and the ``policy`` use cases take
    (config and calendar), re-read after an admin loads a year's schedule (``CalendarCache``).
    Runs inside ``DbSessionMiddleware``."""

    def __init__(self, cache: CalendarCache) -> None:
        self._cache = cache

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        policy = await self._cache.policy(data["session"])
        data["policy"] = policy
        data["calendar"] = policy.calendar
        return await handler(event, data)


FLOOD_REPLY = "您的操作过于频繁，请稍候一分钟再试。"


class ThrottlingMiddleware(BaseMiddleware):
    """Per-user flood control: more than ``limit`` updates within ``window`` gets one polite reply,
    then every update of that person is dropped until ``cooldown`` has passed. Time is read from
    the dispatcher's ``clock``; the counts are per process."""

    def __init__(
        self,
        limit: int = 20,
        window: timedelta = timedelta(seconds=10),
        cooldown: timedelta = timedelta(seconds=60),
    ) -> None:
        self.limit = limit
        self.window = window
        self.cooldown = cooldown
        self._recent: dict[int, deque[datetime]] = {}
        self._silent_until: dict[int, datetime] = {}

    def _forget_idle(self, now: datetime) -> None:
        for user_id in [u for u, seen in self._recent.items() if now - seen[-1] > self.window]:
            del self._recent[user_id]
        for user_id in [u for u, until in self._silent_until.items() if until <= now]:
            del self._silent_until[user_id]

    def _flooding(self, user_id: int, now: datetime) -> bool | None:
        """None: let it through; False: the first refused update (answer it); True: drop it."""
        until = self._silent_until.get(user_id)
        if until is not None and now < until:
            return True
        seen = self._recent.setdefault(user_id, deque())
        while seen and now - seen[0] >= self.window:
            seen.popleft()
        seen.append(now)
        if len(seen) <= self.limit:
            return None
        self._silent_until[user_id] = now + self.cooldown
        seen.clear()
        if len(self._recent) > 10_000:
            self._forget_idle(now)
        return False

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if not isinstance(event, Update) or not (event.message or event.callback_query):
            return await handler(event, data)
        user = data.get("event_from_user")
        if user is None:
            return await handler(event, data)
        clock: Clock = data["clock"]
        flooding = self._flooding(user.id, clock.now())
        if flooding is None:
            return await handler(event, data)
        logger.info("throttled update %s", event.update_id)
        bot: Bot = data["bot"]
        if event.callback_query is not None:
            await event.callback_query.answer(None if flooding else FLOOD_REPLY)
        elif not flooding and event.message is not None:
            await bot.send_message(event.message.chat.id, FLOOD_REPLY)
        return None


class UpdateTracker(BaseMiddleware):
    """Counts updates by type for the metrics and knows how many are in hand, so that a stopping
    process can finish them before it closes the database."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._in_hand = 0
        self._idle = asyncio.Event()
        self._idle.set()

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        self._in_hand += 1
        self._idle.clear()
        try:
            return await handler(event, data)
        finally:
            self._in_hand -= 1
            if self._in_hand == 0:
                self._idle.set()
            kind = event.event_type if isinstance(event, Update) else type(event).__name__
            self._metrics.updates.labels(kind).inc()

    @property
    def in_hand(self) -> int:
        return self._in_hand

    async def wait_idle(self, within: float) -> bool:
        """Wait until no update is in hand; False if ``within`` seconds passed first."""
        try:
            async with asyncio.timeout(within):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True
