"""Writing to the outbox, inside the use case's own transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

from models.notification import Notification, NotificationStatus, RecipientKind, SendMethod
from models.types import utc


def notification_key(
    kind: str, *, case_id: int | None = None, stage: str | int = 0, recipient: str = ""
) -> str:
    """The idempotency key: the same (case, kind, stage, recipient) is sent at most once."""
    return f"{case_id if case_id is not None else '-'}:{kind}:{stage}:{recipient}"


async def enqueue(
    session: AsyncSession,
    *,
    key: str,
    kind: str,
    chat_id: int,
    recipient_kind: RecipientKind,
    text: str,
    now: datetime,
    recipient_id: int | None = None,
    case_id: int | None = None,
    reply_markup: dict[str, Any] | None = None,
    method: SendMethod = SendMethod.MESSAGE,
    document_path: str | None = None,
) -> bool:
    """Queue one message; a key already queued is left alone. True when a row was written."""
    values = {
        "key": key,
        "kind": kind,
        "chat_id": chat_id,
        "recipient_kind": recipient_kind,
        "recipient_id": recipient_id,
        "case_id": case_id,
        "text": text,
        "reply_markup": reply_markup,
        "method": method,
        "document_path": document_path,
        "status": NotificationStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": utc(now),
        "created_at": utc(now),
    }
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    table = Notification.__table__  # type: ignore[attr-defined]
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    statement = insert.values(**values).on_conflict_do_nothing(index_elements=["key"])
    result = await session.exec(statement)
    return bool(result.rowcount)
