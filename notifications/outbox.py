"""Writing to the outbox, inside the use case's own transaction."""

from __future__ import annotations

import weakref
from collections.abc import Hashable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models import keys
from models.bulk import insert_rows
from models.document import MAX_DOCUMENT_BYTES, StoredDocument, digest
from models.notification import (
    ANONYMOUS_KEY,
    Channel,
    Notice,
    Notification,
    NotificationStatus,
    Offering,
    Recipient,
    RecipientKind,
    SendMethod,
)
from models.team import Inspector, Role
from models.types import utc
from notifications.render import render_notice


def notification_key(
    kind: str, *, case_id: int | None = None, stage: str | int = 0, recipient: str = ""
) -> str:
    """The idempotency key: the same (case, kind, stage, recipient) is sent at most once."""
    return f"{case_id if case_id is not None else '-'}:{kind}:{stage}:{recipient}"


def reporter_notice_key(
    kind: str, *, case_id: int, anonymous: bool, stage: str | int, to: Recipient
) -> tuple[str, int | None]:
    """The key and case of a notice to a case's reporter. To the Telegram chat of an anonymous
    case's reporter it carries no case and a keyed hash of its key (``ANONYMOUS_KEY``): the outbox
    never links the case to the chat, and the sender forgets the chat once it is done."""
    plain = notification_key(kind, case_id=case_id, stage=stage, recipient=to.tag)
    if anonymous and to.channel is Channel.TELEGRAM:
        return ANONYMOUS_KEY + keys.current().keyed_hash("outbox-key", plain), None
    return plain, case_id


def queued(
    *,
    kind: str,
    to: Recipient,
    notice: Notice,
    now: datetime,
    case_id: int | None = None,
    stage: str | int = 0,
    key: str | None = None,
    offer: Offering | None = None,
    method: SendMethod = SendMethod.MESSAGE,
    document_id: int | None = None,
) -> dict[str, Any]:
    """The columns of a notice waiting to be sent (or shown): one place for what a fresh outbox
    row holds, for ``enqueue`` and for writers in bulk (the demo generator). Its key is
    ``notification_key`` of the case, kind, stage and recipient unless one is given."""
    at = utc(now)
    return {
        "key": key or notification_key(kind, case_id=case_id, stage=stage, recipient=to.tag),
        "kind": kind,
        "channel": to.channel,
        "chat_id": to.chat_id,
        "recipient_kind": to.kind,
        "recipient_id": to.id,
        "case_id": case_id,
        "template": notice.template,
        "params": dict(notice.params),
        "offer": offer.offer if offer else None,
        "offer_ref": offer.ref if offer else None,
        "method": method,
        "document_id": document_id,
        "status": NotificationStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": at,
        "created_at": at,
    }


async def enqueue(
    session: AsyncSession,
    *,
    kind: str,
    to: Recipient,
    notice: Notice,
    now: datetime,
    case_id: int | None = None,
    stage: str | int = 0,
    key: str | None = None,
    offer: Offering | None = None,
    method: SendMethod = SendMethod.MESSAGE,
    document_id: int | None = None,
) -> bool:
    """Queue one notice; a key already queued is left alone. True when a row was written.

    The row keeps what to say (``notice``), rendered by its channel when it is shown; it is
    rendered once here too, so a template that cannot render fails the use case, not the
    sender. A ``web`` row (a reporter with no chat) has no ``chat_id`` and is never sent."""
    values = queued(
        key=key,
        kind=kind,
        to=to,
        case_id=case_id,
        stage=stage,
        notice=notice,
        offer=offer,
        method=method,
        document_id=document_id,
        now=now,
    )
    ready(values, notice)
    result = await session.exec(_insert(session, Notification, values, "key"))
    written = bool(result.rowcount)
    if written and to.channel is Channel.TELEGRAM:
        session.sync_session.info[QUEUED] = True
    return written


def ready(
    values: dict[str, Any],
    notice: Notice,
    checked: set[Hashable] | None = None,
    *,
    shaped: Hashable | None = None,
) -> dict[str, Any]:
    """A row ``queued`` made, checked before it is written: a Telegram notice needs a chat, and
    its notice is rendered once, so that a template that cannot render fails the use case, not
    the sender. Returns the row.

    ``checked``, kept by a writer of many notices (the sweep), holds the ``shape`` of each
    notice rendered so far: a notice of a shape already rendered is not rendered again.
    ``shaped`` is the notice's ``shape`` when its writer knows it already (``check``)."""
    if values["channel"] is Channel.TELEGRAM and values["chat_id"] is None:
        raise ValueError(f"notification {values['key']}: a Telegram notice needs a chat")
    check(notice, checked, shaped=shaped)
    return values


def check(
    notice: Notice, checked: set[Hashable] | None = None, *, shaped: Hashable | None = None
) -> None:
    """Render the notice (it raises if its template cannot render it), unless a notice of its
    ``shape`` is in ``checked``; then it is. ``shaped``, if given, is ``shape(notice)`` as its
    writer worked it out once for the many notices it makes alike (the sweep's deadline
    notices: ``bot.services.sweep_plan``), so that it is not walked again for each."""
    if checked is None:
        render_notice(notice)
        return
    seen = shape(notice) if shaped is None else shaped
    if seen not in checked:
        render_notice(notice)
        checked.add(seen)


def shape(notice: Notice) -> Hashable:
    """What a notice's rendering can depend on besides what it substitutes: its template, its
    parameters' names and types, the values a template branches on or looks up (flags,
    identifiers such as a clock kind or a track), whether a text is empty and a number's sign
    (a template says a number, or asks whether there is one: ``{% if more %}``). Free text (a
    case number, a name, a due time) is substituted, escaped, the same way whatever it says; a
    list is whether it is empty and its items' distinct shapes. Two notices of one shape render
    or fail alike."""
    return (notice.template, _shape(dict(notice.params)))


def text_shape(text: str) -> Hashable:
    """``shape`` of one text parameter: an identifier as it is (a template may branch on it),
    any other text only whether it is empty."""
    return text if text.isascii() and text.isidentifier() else ("text", bool(text))


def _shape(value: Any) -> Hashable:
    kind = type(value)
    if kind is str:
        return text_shape(value)
    if kind is bool or value is None:
        return bool(value) if kind is bool else None
    if kind is int or kind is float:
        return ("number", value > 0, value < 0)
    if kind is dict:
        return _shape_items(value)
    if kind is list:
        return ("list", bool(value), tuple(dict.fromkeys([_shape(item) for item in value])))
    raise TypeError(f"{kind.__name__} is not a notice parameter")


def _shape_items(params: dict[str, Any]) -> Hashable:
    """``_shape`` of a dict: its plain values (most of a notice's) shaped here, as ``_shape``
    shapes them, without a call each (a sweep shapes thousands of notices)."""
    shaped: list[tuple[str, Hashable]] = []
    for key, value in params.items():
        kind = type(value)
        if kind is str:
            text: str = value
            plain = text.isascii() and text.isidentifier()
            shaped.append((key, text if plain else ("text", text != "")))
        elif value is None:
            shaped.append((key, None))
        elif kind is bool:
            shaped.append((key, bool(value)))
        elif kind is int or kind is float:
            shaped.append((key, ("number", value > 0, value < 0)))
        else:
            shaped.append((key, _shape(value)))
    return tuple(shaped)


async def enqueue_many(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Queue many rows (each made by ``queued`` and checked by ``ready``) in one
    ``INSERT … ON CONFLICT (key) DO NOTHING … RETURNING`` (``models.bulk``); a key queued
    before, or twice in ``rows``, is queued once. Returns the keys actually written, with
    their rows' ids."""
    first: dict[str, dict[str, Any]] = {}
    for row in rows:
        first.setdefault(row["key"], row)
    if not first:
        return {}
    table = Notification.__table__  # type: ignore[attr-defined]
    written = await insert_rows(
        await session.connection(),
        table,
        list(first.values()),
        skip_conflicts_on="key",
        returning=("id", "key", "channel"),
    )
    keys: dict[str, int] = {}
    for line in written:
        row_id, key, channel = line[0], line[1], line[2]
        keys[str(key)] = int(row_id)
        if channel == Channel.TELEGRAM:
            session.sync_session.info[QUEUED] = True
    return keys


# A commit that queued a Telegram notice wakes this process's senders at once, rather than at
# their next look (up to a second later): a mark in the session, read after the commit.
QUEUED = "lianka.telegram_notice_queued"
_wakers: weakref.WeakSet[Any] = weakref.WeakSet()


def wake_on_queued(sender: Any) -> None:
    """Call ``sender.wake()`` after every commit in this process that queued a Telegram notice
    (held weakly: a sender gone is forgotten)."""
    _wakers.add(sender)


@sa_event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the row is not committed yet
        return
    if session.info.pop(QUEUED, False):
        for sender in list(_wakers):
            sender.wake()


@sa_event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    if not session.in_nested_transaction():
        session.info.pop(QUEUED, None)


async def notify_inspectors(
    session: AsyncSession,
    case_id: int,
    people: Iterable[Inspector],
    *,
    kind: str,
    stage: int,
    notice: Notice,
    now: datetime,
    offer: Offering | None = None,
) -> int:
    """Queue one message about a case to each of ``people`` who is active, once per person and
    stage (in Telegram, or for the console when they have no chat); how many rows were written."""
    queued = 0
    seen: set[int] = set()
    for person in people:
        if person.id is None or person.id in seen or not person.active:
            continue
        seen.add(person.id)
        queued += await enqueue(
            session,
            kind=kind,
            to=Recipient.inspector(person),
            case_id=case_id,
            stage=stage,
            notice=notice,
            offer=offer,
            now=now,
        )
    return queued


async def withdraw_waiting(
    session: AsyncSession, people: Any, *, case_id: int | None = None
) -> None:
    """Notices still waiting for ``people`` (an id, or a SELECT of inspector ids) — on one case,
    or on any — go nowhere (``WITHDRAWN``): they no longer may read them (deactivated, or their
    team taken off the case). The sender checks a recipient's activity too; the caller commits."""
    recipients = (
        col(Notification.recipient_id) == people
        if isinstance(people, int)
        else col(Notification.recipient_id).in_(people)
    )
    waiting = col(Notification.status).in_([NotificationStatus.PENDING, NotificationStatus.SENDING])
    where = [col(Notification.recipient_kind) == RecipientKind.INSPECTOR, recipients, waiting]
    if case_id is not None:
        where.append(col(Notification.case_id) == case_id)
    await session.exec(
        update(Notification)
        .where(*where)
        .values(status=NotificationStatus.WITHDRAWN, claimed_by=None, claimed_until=None)
    )


async def team_leaders_of(session: AsyncSession, team_id: int | None) -> list[Inspector]:
    """A team's active team leaders, in the order they were registered (none for no team)."""
    if team_id is None:
        return []
    rows = await session.exec(
        select(Inspector)
        .where(
            col(Inspector.team_id) == team_id,
            col(Inspector.role) == Role.TEAM_LEADER,
            col(Inspector.active).is_(True),
        )
        .order_by(col(Inspector.id))
    )
    return list(rows.all())


async def reachable(session: AsyncSession, role: Role) -> list[Inspector]:
    """The active people of ``role``, who can be told something (in Telegram, or in the
    console when they have no chat)."""
    return list(
        (
            await session.exec(
                select(Inspector)
                .where(Inspector.role == role, col(Inspector.active).is_(True))
                .order_by(col(Inspector.id))
            )
        ).all()
    )


async def active_admins(session: AsyncSession) -> list[Inspector]:
    """The active admins, who are told what needs an admin."""
    return await reachable(session, Role.ADMIN)


async def store_document(
    session: AsyncSession, filename: str, content: bytes, now: datetime
) -> int:
    """Keep a file to be sent in the database, once per content; returns its id for
    ``enqueue(document_id=...)``. Any instance's sender can then deliver it."""
    if len(content) > MAX_DOCUMENT_BYTES:
        raise ValueError(f"{filename} is {len(content)} bytes; Telegram takes at most 50 MB")
    sha256 = digest(content)
    values = {
        "sha256": sha256,
        "filename": filename,
        "size": len(content),
        "content": content,
        "created_at": utc(now),
    }
    await session.exec(_insert(session, StoredDocument, values, "sha256"))
    stored = (
        await session.exec(select(StoredDocument.id).where(StoredDocument.sha256 == sha256))
    ).one()
    assert stored is not None
    return stored


def _insert(session: AsyncSession, model: Any, values: dict[str, Any], unique: str) -> Any:
    """INSERT … ON CONFLICT (unique) DO NOTHING, in the session's dialect."""
    insert = _insert_statement(session, model.__table__)
    return insert.values(**values).on_conflict_do_nothing(index_elements=[unique])


def _insert_statement(session: AsyncSession, table: Any) -> Any:
    """An INSERT in the session's dialect (which has ON CONFLICT)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
