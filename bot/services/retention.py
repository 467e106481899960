"""Retention: personal data is kept only as long as ``[retention]`` says, then removed.

What goes, and when (``lianka purge`` and the daily ``retention-purge`` job):

- 草稿: a bot conversation (``fsm_records``) untouched for ``draft_days``, and a web report never
  submitted and untouched as long (``web_drafts``); in Redis a draft expires by itself (its
  keys carry a TTL of ``draft_days``, ``bot.storage.create_storage``).
- 通知正文: the text of a notice shown or sent ``notification_text_days`` ago (its parameters,
  its rendered text and keyboard); the row stays with who, what kind, status and times.
- 联系方式: a named reporter's name and phone (``reporter_contacts``), ``contact_years`` after
  the case was closed or withdrawn.
- 回执码: the hash of a case's receipt code, the 回访 window — or the longer 防打击报复回访
  window (``[aftercare]``: the question is asked on the page) — or
  ``receipt_workdays_after_closure``, after it was closed or withdrawn.

Each kind goes in batches, each batch its own transaction, so a long purge never holds a lock
for long and a crash loses at most one batch (the next run takes it again). On SQLite what is
removed is overwritten in the file (``secure_delete``) and the write-ahead log is checkpointed
after, so the values are not left in free pages; on PostgreSQL (auto)vacuum reclaims the dead
rows. The audit trail
(``case_events``) is never read or changed here, so every chain verifies after a purge, and
nothing is logged but counts. Uploads nothing references have their own hourly purge
(``bot.blobs.purge_orphan_blobs``).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import delete, func, text, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LiankaConfig
from bot.services.calendar import load_calendar
from models.calendar import WorkCalendar
from models.case import Case, CaseStatus
from models.fsm import FsmRecord
from models.keys import current as keys_now
from models.notification import (
    ANONYMOUS_KEY,
    Channel,
    Notification,
    NotificationStatus,
    RecipientKind,
)
from models.reporter import ReporterContact
from models.web_draft import WebDraft

logger = logging.getLogger(__name__)

BATCH = 500
CLOSED = (CaseStatus.CLOSED, CaseStatus.WITHDRAWN)
UNSENT = (NotificationStatus.PENDING, NotificationStatus.SENDING)
UNLINKED = "purged:"


class PurgeKind(enum.StrEnum):
    BOT_DRAFTS = "bot_drafts"
    WEB_DRAFTS = "web_drafts"
    NOTIFICATION_TEXTS = "notification_texts"
    CONTACTS = "contacts"
    RECEIPTS = "receipts"

    @property
    def label(self) -> str:
        return PURGE_LABELS[self]


PURGE_LABELS = {
    PurgeKind.BOT_DRAFTS: "未提交的机器人对话草稿",
    PurgeKind.WEB_DRAFTS: "未提交的网页填报草稿",
    PurgeKind.NOTIFICATION_TEXTS: "已发送通知的正文",
    PurgeKind.CONTACTS: "反映人联系方式",
    PurgeKind.RECEIPTS: "回执码",
}


@dataclass(frozen=True, slots=True)
class PurgePlan:
    """How many of each kind a purge removes (or, dry, would remove)."""

    counts: dict[PurgeKind, int] = field(default_factory=lambda: dict.fromkeys(PurgeKind, 0))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def __getitem__(self, kind: PurgeKind) -> int:
        return self.counts[kind]


@dataclass(frozen=True, slots=True)
class Limits:
    """The retention settings as cut-off times at ``now``."""

    now: datetime
    drafts_before: datetime
    texts_before: datetime
    contacts_before: datetime
    receipt_workdays: int


def years_before(now: datetime, years: int) -> datetime:
    """The same moment ``years`` calendar years earlier (29 February: the 28th)."""
    try:
        return now.replace(year=now.year - years)
    except ValueError:
        return now.replace(year=now.year - years, day=28)


def limits(config: LiankaConfig, now: datetime) -> Limits:
    retention = config.retention
    workdays = retention.receipt_workdays_after_closure
    return Limits(
        now=now,
        drafts_before=now - timedelta(days=retention.draft_days),
        texts_before=now - timedelta(days=retention.notification_text_days),
        contacts_before=years_before(now, retention.contact_years),
        receipt_workdays=config.receipt_window() if workdays is None else workdays,
    )


async def _batches(session: AsyncSession, statement: Any, key: Any) -> AsyncIterator[Sequence[Any]]:
    """The rows of ``statement`` (its first column ``key``) a batch at a time, in key order, each
    batch read after the previous one was dealt with (keyset: rows kept are not read again)."""
    last = None
    while True:
        query = statement if last is None else statement.where(key > last)
        found = (await session.exec(query.order_by(key).limit(BATCH))).all()
        rows = [row if isinstance(row, sa.Row) else (row,) for row in found]
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _bot_drafts(cut: Limits) -> tuple[Any, Any]:
    key = col(FsmRecord.key)
    return select(key).where(col(FsmRecord.updated_at) <= cut.drafts_before), key


def _web_drafts(cut: Limits) -> tuple[Any, Any]:
    key = col(WebDraft.session_key)
    statement = select(key).where(
        col(WebDraft.reporter_id).is_(None), col(WebDraft.updated_at) <= cut.drafts_before
    )
    return statement, key


def _with_text() -> Any:
    """A notice row that still holds a text (its text, the template's params or buttons)."""
    return sa.or_(
        col(Notification.text).is_not(None),
        col(Notification.params).is_not(None),
        col(Notification.reply_markup).is_not(None),
    )


def _notification_texts(cut: Limits) -> tuple[Any, Any]:
    key = col(Notification.id)
    shown = func.coalesce(col(Notification.sent_at), col(Notification.created_at))
    waiting = sa.and_(
        col(Notification.channel) == Channel.TELEGRAM, col(Notification.status).in_(UNSENT)
    )
    # a reporter chat's notice whose text an earlier version removed still names its case and
    # chat: it is taken again, once, to lose that link (its key then starts ``UNLINKED``)
    still_linked = sa.and_(
        col(Notification.recipient_kind) == RecipientKind.REPORTER,
        col(Notification.channel) == Channel.TELEGRAM,
        sa.not_(col(Notification.key).startswith(UNLINKED)),
        sa.not_(col(Notification.key).startswith(ANONYMOUS_KEY)),
    )
    statement = select(key).where(
        sa.or_(_with_text(), still_linked),
        shown <= cut.texts_before,
        sa.not_(waiting),
    )
    return statement, key


def _contacts(cut: Limits) -> tuple[Any, Any]:
    key = col(ReporterContact.case_id)
    statement = (
        select(key)
        .join(Case, col(Case.id) == col(ReporterContact.case_id))
        .where(col(Case.status).in_(CLOSED), col(Case.closed_at) <= cut.contacts_before)
    )
    return statement, key


def _receipts(cut: Limits) -> tuple[Any, Any]:
    """Cases closed at least the window's number of days ago (a working day is at least a day);
    ``_receipts_due`` then keeps those whose window, in working days, has passed."""
    key = col(Case.id)
    statement = select(key, col(Case.closed_at)).where(
        col(Case.receipt_hash).is_not(None),
        col(Case.status).in_(CLOSED),
        col(Case.closed_at) <= cut.now - timedelta(days=cut.receipt_workdays),
    )
    return statement, key


def _receipts_due(rows: Sequence[Any], cut: Limits, calendar: WorkCalendar) -> list[int]:
    return [
        row[0]
        for row in rows
        if row[1] is not None and calendar.deadline(row[1], cut.receipt_workdays).due_at <= cut.now
    ]


def _sqlite(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "sqlite"


def _statement(kind: PurgeKind, keys: list[Any], cut: Limits) -> Any:
    """The removal of one batch; it checks the limit again (a draft touched since it was read
    stays)."""
    if kind is PurgeKind.BOT_DRAFTS:
        return delete(FsmRecord).where(
            col(FsmRecord.key).in_(keys), col(FsmRecord.updated_at) <= cut.drafts_before
        )
    if kind is PurgeKind.WEB_DRAFTS:
        return delete(WebDraft).where(
            col(WebDraft.session_key).in_(keys),
            col(WebDraft.reporter_id).is_(None),
            col(WebDraft.updated_at) <= cut.drafts_before,
        )
    if kind is PurgeKind.NOTIFICATION_TEXTS:
        return (  # counted: the rows that still had a text (an emptied one is only unlinked)
            update(Notification)
            .where(col(Notification.id).in_(keys), _with_text())
            .values(text=None, params=sa.null(), reply_markup=sa.null())
        )
    if kind is PurgeKind.CONTACTS:
        return delete(ReporterContact).where(col(ReporterContact.case_id).in_(keys))
    return (
        update(Case)
        .where(col(Case.id).in_(keys), col(Case.receipt_hash).is_not(None))
        .values(receipt_hash=None, version=col(Case.version) + 1)
    )


async def _apply(session: AsyncSession, kind: PurgeKind, keys: list[Any], cut: Limits) -> int:
    """Remove one batch; how many rows it removed."""
    if _sqlite(session):  # what is removed is overwritten in the file, not left in free pages
        await (await session.connection()).execute(text("PRAGMA secure_delete = ON"))
    result = await session.exec(_statement(kind, keys, cut))
    if kind is PurgeKind.NOTIFICATION_TEXTS:
        await _unlink_reporter_notices(session, keys)
    return int(result.rowcount or 0)


async def _unlink_reporter_notices(session: AsyncSession, ids: list[Any]) -> None:
    """A notice sent to a reporter's chat names the case and the chat (its key too: kind, case,
    recipient): once its text goes, so does that link. The row keeps who (the reporter row),
    what kind, when and its status; its key becomes a keyed hash, still unique."""
    rows = await session.exec(
        select(col(Notification.id), col(Notification.key)).where(
            col(Notification.id).in_(ids),
            col(Notification.recipient_kind) == RecipientKind.REPORTER,
            col(Notification.channel) == Channel.TELEGRAM,
            sa.not_(col(Notification.key).startswith(UNLINKED)),
        )
    )
    ring = keys_now()
    unlinked = [
        {
            "id": row_id,
            "key": UNLINKED + ring.keyed_hash("outbox-key", key),
            "case_id": None,
            "chat_id": None,
            "offer_ref": None,
        }
        for row_id, key in rows.all()
    ]
    if unlinked:  # one statement for the batch (an update by primary key, executemany)
        await session.exec(update(Notification), params=unlinked)


QUERIES = {
    PurgeKind.BOT_DRAFTS: _bot_drafts,
    PurgeKind.WEB_DRAFTS: _web_drafts,
    PurgeKind.NOTIFICATION_TEXTS: _notification_texts,
    PurgeKind.CONTACTS: _contacts,
    PurgeKind.RECEIPTS: _receipts,
}


async def _run(
    session: AsyncSession, config: LiankaConfig, now: datetime, *, dry_run: bool
) -> PurgePlan:
    cut = limits(config, now)
    calendar = await load_calendar(session, config)
    await session.commit()
    plan = PurgePlan()
    for kind, query in QUERIES.items():
        statement, key = query(cut)
        async for rows in _batches(session, statement, key):
            if kind is PurgeKind.RECEIPTS:
                keys = _receipts_due(rows, cut, calendar)
            else:
                keys = [row[0] for row in rows]
            if keys and not dry_run:
                plan.counts[kind] += await _apply(session, kind, keys, cut)
            else:
                plan.counts[kind] += len(keys)
            await session.commit()  # one transaction per batch (a dry run only read)
    if plan.total and not dry_run and _sqlite(session):
        # the pages as they were stay in the write-ahead log until it is checkpointed
        await (await session.connection()).execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        await session.commit()
    return plan


async def plan_purge(session: AsyncSession, config: LiankaConfig, now: datetime) -> PurgePlan:
    """What a purge at ``now`` would remove, per kind; nothing is changed."""
    return await _run(session, config, now, dry_run=True)


async def purge(
    session: AsyncSession, config: LiankaConfig, now: datetime, *, dry_run: bool = False
) -> PurgePlan:
    """Remove what the retention settings say has been kept long enough at ``now``, a batch per
    transaction; ``dry_run``: only count. Logs counts, never a value."""
    plan = await _run(session, config, now, dry_run=dry_run)
    if not dry_run and plan.total:
        logger.info(
            "retention purge: %s",
            ", ".join(f"{kind.value}={count}" for kind, count in plan.counts.items() if count),
        )
    return plan
