"""The paced sender: one drainer of the outbox per process.

It claims due rows in one statement (``UPDATE … RETURNING``, ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL), so two senders on one database never take the same row, and a row claimed by a
sender that died is taken again once ``claimed_until`` has passed.

Each notice is sent at least once, and twice only if Telegram may have taken a request whose
answer never came back: its sender died with the request in flight, or the request timed out
(or got a 5xx) after Telegram took it. Just before its send slot the row is marked
``attempted_at`` (and the claim renewed) in a committed statement that also checks the claim is
still this sender's, and the answer clears the mark in the next. A row claimed again with the mark still set is the one case where Telegram may
already have the message (the Bot API has no idempotency key): it is sent again, logged and
counted (``resent_unknown``). A row that was claimed but never attempted is sent once.

Only ``telegram`` rows are claimed: a ``web`` row (a reporter with no chat) is read by a page.
A row says what to say (a template and its parameters), rendered to Telegram HTML just before
it is sent; a row queued before that carries its text, which is sent as it is.

Sending is paced: send starts are spaced by ``1 / per_second`` overall and by ``chat_interval``
per chat, one request per chat at a time, and no more than ``per_second`` requests fall in any
one second of Telegram's count, however late they reach it (``SendWindow``). A 429 holds the
chat for ``retry_after`` and retries the row then; 5xx, network errors and timeouts retry with
exponential backoff and jitter until the retry budget is spent (then ``failed``); a 403 (the
person blocked the bot) marks the row undeliverable, the person ``blocked_at``, and tells the
admins once. The pace is per process: several instances share Telegram's budget, so give each a
share (``LIANKA_SEND_PER_SECOND``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiogram import Bot
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import BufferedInputFile, Message
from jinja2 import TemplateError
from sqlalchemy import and_, or_, update
from sqlalchemy import case as sql_case
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock, SystemClock
from bot.db import SessionFactory
from models.case import Case
from models.document import StoredDocument
from models.notification import (
    ANONYMOUS_KEY,
    Channel,
    Notice,
    Notification,
    NotificationStatus,
    Recipient,
    RecipientKind,
    SendMethod,
)
from models.reporter import Reporter
from models.team import Inspector
from models.types import utc
from notifications.outbox import active_admins, enqueue, team_leaders_of, wake_on_queued
from notifications.render import telegram_html
from notifications.telegram import notice_keyboard

logger = logging.getLogger(__name__)

# A body that is not Bot API JSON (a proxy's 502 page, a 404 in front of a self-hosted server)
# is a failed call like a 5xx.
RETRYABLE = (
    TelegramServerError,
    TelegramNetworkError,
    TelegramUnauthorizedError,
    ClientDecodeError,
)


@dataclass(frozen=True, slots=True)
class Pace:
    """How fast: Telegram allows about 30 messages a second overall and 1 a second per chat,
    counted when it takes a message, in sliding one-second windows.

    Sends start ``1 / per_second`` apart, and at most ``per_second`` requests may be in any one
    second of Telegram's count (``SendWindow``): 29 leaves one of Telegram's 30 spare. A start
    that wakes late by less than ``slack`` of that interval keeps the schedule, so the rate
    holds; a backlog is never caught up in a burst. A chat's next send waits ``chat_interval``
    after Telegram answered its last one."""

    per_second: float = 29.0
    chat_interval: float = 1.0
    slack: float = 0.25


class SendWindow:
    """The requests Telegram may still count in its sliding one-second window.

    Telegram counts a request when it takes it, at some moment between the request's start here
    and its answer here; on a busy machine requests started evenly can be held up on the way (a
    process waiting for the CPU) and taken together, so spacing the starts does not bound the
    count. A request started at ``s`` is counted at ``t >= s`` together with the requests taken
    after ``t - 1``; each of those was answered here after it was taken, so after ``s - 1``, or
    is still in flight. So a request starts only while fewer than ``size`` requests are in flight
    or answered within the last ``seconds``: the limit holds whatever the delays on the way, at
    the cost of each request's round trip (a few milliseconds here)."""

    def __init__(self, size: int, seconds: float = 1.0) -> None:
        self.size = max(1, size)
        self.seconds = seconds
        self._until: dict[int, float] = {}  # request → when Telegram's window surely forgets it
        self._ids = 0

    def start(self) -> int:
        self._ids += 1
        self._until[self._ids] = float("inf")
        return self._ids

    def answered(self, request: int, at: float) -> None:
        """The request's answer (or failure) came back at ``at``; called once per request."""
        if request in self._until:
            self._until[request] = min(self._until[request], at + self.seconds)

    def free_at(self, now: float) -> float:
        """When the next request may start: ``now`` or later, ``inf`` until an answer comes."""
        for request in [r for r, until in self._until.items() if until <= now]:
            del self._until[request]
        if len(self._until) < self.size:
            return now
        ends = sorted(self._until.values())
        return ends[len(ends) - self.size]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff ``base·2^(n-1)`` capped at ``cap`` seconds, half of it random (jitter); a row
    fails once it has had ``max_attempts`` tries and is older than ``keep_trying``, so a
    Telegram outage of a few hours loses nothing."""

    max_attempts: int = 10
    base: float = 2.0
    cap: float = 1800.0
    keep_trying: timedelta = timedelta(hours=24)

    def delay(self, attempts: int, rng: random.Random) -> float:
        ceiling = min(self.cap, self.base * 2.0 ** max(0, attempts - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)

    def exhausted(self, attempts: int, created_at: datetime, now: datetime) -> bool:
        return attempts >= self.max_attempts and now - created_at >= self.keep_trying


@dataclass(slots=True)
class SenderStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    undeliverable: int = 0
    resent_unknown: int = 0  # claimed again after a sender died with its request in flight


def default_instance() -> str:
    return f"sender:{socket.gethostname()[:40]}:{os.getpid()}"


async def claim_notifications(
    session: AsyncSession,
    now: datetime,
    instance: str,
    limit: int,
    lease: timedelta,
    *,
    skip_chats: Sequence[int] = (),
    skip_ids: Sequence[int] = (),
    channel: Channel = Channel.TELEGRAM,
) -> list[Notification]:
    """Claim up to ``limit`` due rows (pending and due, or abandoned by a dead sender) in one
    statement, oldest first; commits the claim. ``skip_ids``: rows the caller holds already (a
    claim that lapsed while the row waited its turn is not taken a second time). A row for a
    staff member deactivated since it was queued is closed as withdrawn in the same statement
    and not returned: whatever it says (a case, a clue, its buttons) is no longer theirs."""
    table = Notification.__table__  # type: ignore[attr-defined]
    inactive = select(col(Inspector.id)).where(col(Inspector.active).is_(False))
    withdrawn = and_(
        table.c.recipient_kind == RecipientKind.INSPECTOR, table.c.recipient_id.in_(inactive)
    )
    due = (
        select(table.c.id)
        .where(
            table.c.channel == channel,
            or_(
                and_(
                    table.c.status == NotificationStatus.PENDING,
                    table.c.next_attempt_at <= now,
                ),
                and_(
                    table.c.status == NotificationStatus.SENDING,
                    table.c.claimed_until < now,
                ),
            ),
        )
        .order_by(table.c.next_attempt_at, table.c.id)
        .limit(limit)
    )
    if skip_chats:
        due = due.where(table.c.chat_id.not_in(list(skip_chats)))
    if skip_ids:
        due = due.where(table.c.id.not_in(list(skip_ids)))
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    statement = (
        update(Notification)
        .where(col(Notification.id).in_(due.scalar_subquery()))
        .values(
            status=sql_case(
                (withdrawn, NotificationStatus.WITHDRAWN), else_=NotificationStatus.SENDING
            ),
            claimed_by=instance,
            claimed_until=utc(now + lease),
        )
        .returning(Notification)
        .execution_options(synchronize_session=False)
    )
    while True:
        rows = list((await session.exec(statement)).scalars().all())
        await session.commit()
        claimed = [row for row in rows if row.status == NotificationStatus.SENDING]
        if len(claimed) < len(rows):
            logger.info("%s notices withdrawn: their recipients left", len(rows) - len(claimed))
        if claimed or len(rows) < limit:  # a whole batch withdrawn: look again at once
            return sorted(claimed, key=lambda row: (row.next_attempt_at, row.id or 0))


class Sender:
    """Drains the outbox to Telegram, paced, retried, each row sent once."""

    def __init__(
        self,
        sessions: SessionFactory,
        bot: Bot,
        *,
        pace: Pace | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        instance: str | None = None,
        batch: int = 50,
        chat_backlog: int = 3,
        lease: timedelta = timedelta(minutes=5),
        idle_interval: float = 1.0,
        rng: random.Random | None = None,
    ) -> None:
        self._sessions = sessions
        self._bot = bot
        self.pace = pace or Pace()
        self.retry = retry or RetryPolicy()
        self._clock = clock or SystemClock()
        self.instance = instance or default_instance()
        self._batch = batch
        self._chat_backlog = chat_backlog
        self._lease = lease
        self._idle_interval = idle_interval
        self._woken = asyncio.Event()
        wake_on_queued(self)
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not secrets)
        self._queues: dict[int, deque[Notification]] = {}
        self._next_chat: dict[int, float] = {}
        self._next_start = 0.0
        self._window = SendWindow(int(self.pace.per_second))
        self._in_flight: set[int] = set()
        self._held: set[int] = set()  # ids claimed and not yet settled: queued or in flight
        self._tasks: set[asyncio.Task[None]] = set()
        self.stats = SenderStats()

    def _queued(self) -> int:
        return sum(len(q) for q in self._queues.values())

    async def _claim(self, limit: int) -> int:
        busy = [chat for chat, q in self._queues.items() if len(q) >= self._chat_backlog]
        async with self._sessions() as session:
            rows = await claim_notifications(
                session,
                self._clock.now(),
                self.instance,
                limit,
                self._lease,
                skip_chats=busy,
                skip_ids=sorted(self._held),
            )
        for row in rows:
            if row.attempted_at is not None:
                self.stats.resent_unknown += 1
                logger.warning(
                    "notification %s: its sender stopped with the request in flight; sent again",
                    row.id,
                )
            self._queues.setdefault(_chat(row), deque()).append(row)
            self._held.add(row.id or 0)
        return len(rows)

    def _pick(self, now: float) -> tuple[int, float] | None:
        """The chat that may send soonest, and when (``inf``: once a request is answered)."""
        best: tuple[int, float] | None = None
        free = max(self._next_start, self._window.free_at(now))
        for chat, queue in self._queues.items():
            if not queue or chat in self._in_flight:
                continue
            ready = max(self._next_chat.get(chat, 0.0), free)
            if best is None or ready < best[1]:
                best = (chat, ready)
        return best

    async def drain(self, stop: asyncio.Event | None = None) -> int:
        """Send everything due now, paced; return how many were sent."""
        loop = asyncio.get_running_loop()
        sent_before = self.stats.sent
        exhausted = False
        while stop is None or not stop.is_set():
            if not exhausted and self._queued() <= self._batch // 2:
                exhausted = await self._claim(self._batch - self._queued()) == 0
            pick = self._pick(loop.time())
            if pick is None:
                if self._tasks:
                    await self._wait(None, stop)
                    exhausted = False
                    continue
                if exhausted:
                    break
                continue
            chat, ready = pick
            delay = ready - loop.time()
            if delay > 0:
                await self._wait(None if delay == float("inf") else delay, stop)
                continue
            row = self._queues[chat].popleft()
            if not self._queues[chat]:
                del self._queues[chat]
            # marked before its slot is taken, so a slow commit delays the slot, not the
            # request within it: requests never reach Telegram bunched
            try:
                marked = await self._mark_attempt(row)
            except BaseException:
                self._held.discard(row.id or 0)  # taken again once its claim lapses
                raise
            if not marked:
                self._held.discard(row.id or 0)
                continue
            started = loop.time()
            interval = 1 / self.pace.per_second
            slot = max(self._next_start, started - self.pace.slack * interval)
            self._next_start = slot + interval
            self._next_chat[chat] = started + self.pace.chat_interval
            self._in_flight.add(chat)
            task = asyncio.create_task(self._send(row, self._window.start()))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if self._tasks:
            await asyncio.wait(self._tasks)
        return self.stats.sent - sent_before

    async def _wait(self, delay: float | None, stop: asyncio.Event | None) -> None:
        """Until a send in flight finishes, ``delay`` seconds pass, or ``stop`` is set (a chat
        held back by a long ``retry_after`` must not hold back stopping)."""
        waits: set[asyncio.Future[Any]] = set(self._tasks)
        stopping = asyncio.ensure_future(stop.wait()) if stop is not None else None
        if stopping is not None:
            waits.add(stopping)
        try:
            if waits:
                await asyncio.wait(waits, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
            elif delay is not None:
                await asyncio.sleep(delay)
        finally:
            if stopping is not None:
                stopping.cancel()

    async def run(self, stop: asyncio.Event) -> None:
        """Drain until ``stop`` is set, looking for new rows every ``idle_interval`` when idle;
        on the way out, finish what is in flight and give back what was claimed but not sent."""
        try:
            while not stop.is_set():
                self._woken.clear()
                try:
                    await self.drain(stop)
                except Exception:
                    logger.exception("outbox drain failed; trying again shortly")
                await self._idle(stop)
        finally:
            if self._tasks:
                await asyncio.wait(self._tasks)
            await self._give_back()

    def wake(self) -> None:
        """Something was queued in this process: look now rather than at the next idle turn."""
        self._woken.set()

    async def _idle(self, stop: asyncio.Event) -> None:
        """Until ``stop``, a wake, or ``idle_interval`` (rows queued by another process)."""
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._woken.wait())]
        try:
            await asyncio.wait(
                waits, timeout=self._idle_interval, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for wait in waits:
                wait.cancel()

    async def _give_back(self) -> None:
        ids = [row.id for queue in self._queues.values() for row in queue if row.id is not None]
        self._queues.clear()
        self._held.difference_update(ids)
        if not ids:
            return
        async with self._sessions() as session:
            await session.exec(
                update(Notification)
                .where(
                    col(Notification.id).in_(ids),
                    col(Notification.claimed_by) == self.instance,
                    col(Notification.status) == NotificationStatus.SENDING,
                )
                .values(status=NotificationStatus.PENDING, claimed_by=None, claimed_until=None)
            )
            await session.commit()

    def _describe(self, error: BaseException) -> str:
        """The error as stored on the row, never with the bot token in it."""
        return f"{type(error).__name__}: {error}".replace(self._bot.token, "***")[:500]

    async def _deliver(self, row: Notification) -> Message:
        markup = notice_keyboard(row)
        text = telegram_html(row)
        if row.method is SendMethod.DOCUMENT:
            document = await self._document(row.document_id)
            return await self._bot.send_document(
                chat_id=_chat(row),
                document=BufferedInputFile(document.content, filename=document.filename),
                caption=text or None,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
            )
        return await self._bot.send_message(
            chat_id=_chat(row), text=text, parse_mode=ParseMode.HTML, reply_markup=markup
        )

    async def _document(self, document_id: int | None) -> StoredDocument:
        async with self._sessions() as session:
            document = await session.get(StoredDocument, document_id) if document_id else None
        if document is None:
            raise ValueError(f"document {document_id} of a document row is missing")
        return document

    async def _send(self, row: Notification, request: int) -> None:
        loop = asyncio.get_running_loop()
        try:
            await self._attempt(row, request)
        except Exception:
            logger.exception(
                "notification %s: outcome not recorded; it is tried again after its claim lapses",
                row.id,
            )
        finally:
            self._window.answered(request, loop.time())  # if it never got as far as asking
            self._in_flight.discard(_chat(row))
            self._held.discard(row.id or 0)
            answered = loop.time() + self.pace.chat_interval
            chat = _chat(row)
            self._next_chat[chat] = max(self._next_chat.get(chat, 0.0), answered)

    async def _mark_attempt(self, row: Notification) -> bool:
        """Commit, before the request, that it is being made: the claim is checked to be still
        this sender's (a row whose claim lapsed while it waited its turn may be another's now)
        and renewed for the request. False: not ours any more, so not sent."""
        now = self._clock.now()
        async with self._sessions() as session:
            result = await session.exec(
                update(Notification)
                .where(self._mine(row))
                .values(attempted_at=utc(now), claimed_until=utc(now + self._lease))
            )
            await session.commit()
        if not result.rowcount:
            logger.warning("notification %s: claimed by another sender meanwhile; left", row.id)
            return False
        return True

    async def _request(self, row: Notification, request: int) -> Message:
        """The request to Telegram; its answer (or failure) frees its place in the window."""
        loop = asyncio.get_running_loop()
        try:
            return await self._deliver(row)
        finally:
            self._window.answered(request, loop.time())

    async def _attempt(self, row: Notification, request: int) -> None:
        loop = asyncio.get_running_loop()
        try:
            message = await self._request(row, request)
        except TelegramRetryAfter as error:
            self._next_chat[_chat(row)] = loop.time() + error.retry_after
            await self._reschedule(row, error, float(error.retry_after), count=False)
        except TelegramForbiddenError as error:
            await self._undeliverable(row, error)
        except RETRYABLE as error:
            await self._retry(row, error)
        except (TelegramAPIError, OSError, ValueError, TemplateError) as error:
            await self._finish(row, NotificationStatus.FAILED, error=error)
            self.stats.failed += 1
            logger.warning("notification %s failed: %s", row.id, type(error).__name__)
        else:
            await self._finish(row, NotificationStatus.SENT, message_id=message.message_id)
            self.stats.sent += 1

    def _mine(self, row: Notification) -> Any:
        return and_(
            col(Notification.id) == row.id,
            col(Notification.claimed_by) == self.instance,
            col(Notification.status) == NotificationStatus.SENDING,
        )

    async def _update(self, row: Notification, session: AsyncSession, **values: Any) -> bool:
        result = await session.exec(update(Notification).where(self._mine(row)).values(**values))
        if not result.rowcount:
            logger.warning("notification %s: claim lost before its outcome was recorded", row.id)
            return False
        return True

    async def _finish(
        self,
        row: Notification,
        status: NotificationStatus,
        *,
        message_id: int | None = None,
        error: BaseException | None = None,
    ) -> None:
        now = self._clock.now()
        async with self._sessions() as session:
            await self._update(
                row,
                session,
                **_forgotten(row),
                status=status,
                attempts=row.attempts + 1,
                claimed_by=None,
                claimed_until=None,
                attempted_at=None,
                telegram_message_id=message_id,
                sent_at=now if status is NotificationStatus.SENT else None,
                last_error=self._describe(error) if error else None,
            )
            await session.commit()

    async def _reschedule(
        self, row: Notification, error: BaseException, delay: float, *, count: bool
    ) -> None:
        now = self._clock.now()
        async with self._sessions() as session:
            await self._update(
                row,
                session,
                status=NotificationStatus.PENDING,
                attempts=row.attempts + (1 if count else 0),
                next_attempt_at=utc(now + timedelta(seconds=delay)),
                claimed_by=None,
                claimed_until=None,
                attempted_at=None,
                last_error=self._describe(error),
            )
            await session.commit()
        self.stats.retried += 1

    async def _retry(self, row: Notification, error: BaseException) -> None:
        attempts = row.attempts + 1
        if self.retry.exhausted(attempts, row.created_at, self._clock.now()):
            await self._finish(row, NotificationStatus.FAILED, error=error)
            self.stats.failed += 1
            logger.warning("notification %s failed after %s attempts", row.id, attempts)
            return
        delay = self.retry.delay(attempts, self._rng)
        logger.info("notification %s: %s, retry in %.1fs", row.id, type(error).__name__, delay)
        await self._reschedule(row, error, delay, count=True)

    async def _undeliverable(self, row: Notification, error: BaseException) -> None:
        """403: the person blocked the bot. Mark them, and tell the admins once per person."""
        now = self._clock.now()
        async with self._sessions() as session:
            if not await self._update(
                row,
                session,
                **_forgotten(row),  # the person is found from the row read before
                status=NotificationStatus.UNDELIVERABLE,
                attempts=row.attempts + 1,
                claimed_by=None,
                claimed_until=None,
                attempted_at=None,
                last_error=self._describe(error),
            ):
                await session.rollback()
                return
            await _mark_blocked(session, row, now)
            await session.commit()
        self.stats.undeliverable += 1


def _forgotten(row: Notification) -> dict[str, None]:
    """What a row forgets once it is done: an anonymous case's notice to its reporter's chat
    keeps no chat, reporter or button case (``ANONYMOUS_KEY``); other rows forget nothing."""
    if row.key.startswith(ANONYMOUS_KEY):
        return {"chat_id": None, "recipient_id": None, "offer_ref": None}
    return {}


def _chat(row: Notification) -> int:
    """The chat of a claimed row (only ``telegram`` rows, which have one, are claimed)."""
    assert row.chat_id is not None, f"notification {row.id} has no chat"
    return row.chat_id


async def _mark_blocked(session: AsyncSession, row: Notification, now: datetime) -> None:
    person: Reporter | Inspector | None
    if row.recipient_kind is RecipientKind.REPORTER:
        statement = select(Reporter).where(
            Reporter.id == row.recipient_id
            if row.recipient_id is not None
            else Reporter.chat_id == row.chat_id
        )
        person = (await session.exec(statement)).first()
    else:
        statement_i = select(Inspector).where(
            Inspector.id == row.recipient_id
            if row.recipient_id is not None
            else Inspector.chat_id == row.chat_id
        )
        person = (await session.exec(statement_i)).first()
    if person is None or person.id is None:
        return
    if person.blocked_at is None:
        person.blocked_at = utc(now)
        session.add(person)
    if isinstance(person, Reporter):
        await _reporter_blocked(session, row, person, now)
        return
    notice = Notice.of("admin_blocked", name=person.name)
    for admin in await active_admins(session):
        if admin.id == person.id:
            continue
        await enqueue(
            session,
            key=f"admin:blocked:i{person.id}:i{admin.id}",
            kind="admin_blocked",
            to=Recipient.inspector(admin),
            notice=notice,
            now=now,
        )


async def _reporter_blocked(
    session: AsyncSession, row: Notification, reporter: Reporter, now: datetime
) -> None:
    """A reporter who blocked the bot is their case's business: its assignee is told (its
    team's leaders while nobody holds it), who may reach them as registered. The admins are told
    that a reporter did, never which case (they may not know who reported what, nor see a
    clue). A notice of an anonymous case names no case: then only the admins are told."""
    for admin in await active_admins(session):
        await enqueue(
            session,
            key=f"admin:blocked:r{reporter.id}:i{admin.id}",
            kind="admin_blocked",
            to=Recipient.inspector(admin),
            notice=Notice.of("admin_blocked", name=None),
            now=now,
        )
    case = await session.get(Case, row.case_id) if row.case_id is not None else None
    if case is None or case.id is None:
        return
    holder = await session.get(Inspector, case.assignee_id) if case.assignee_id else None
    told = [holder] if holder is not None and holder.active else []
    if not told:
        told = await team_leaders_of(session, case.team_id)
    notice = Notice.of("inspector_reporter_blocked", case_number=case.number)
    for person in told:
        await enqueue(
            session,
            key=f"staff:blocked:r{reporter.id}:c{case.id}:i{person.id}",
            kind="inspector_reporter_blocked",
            to=Recipient.inspector(person),
            notice=notice,
            now=now,
            case_id=case.id,
        )
