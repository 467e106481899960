"""The outbox: every message Lianka sends is first a row here, written with the change."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import JSONType, UTCDateTime, enum_type


class NotificationStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a sender until ``claimed_until``; ``attempted_at`` set:
    # its request was handed to Telegram and the answer is not recorded (it may have arrived)
    SENT = "sent"
    FAILED = "failed"  # gave up after the retry budget
    UNDELIVERABLE = "undeliverable"  # 403: the person blocked the bot
    DIGESTED = "digested"  # folded into one digest message by the sweep; never sent alone


class RecipientKind(enum.StrEnum):
    REPORTER = "reporter"
    INSPECTOR = "inspector"


class SendMethod(enum.StrEnum):
    MESSAGE = "message"
    DOCUMENT = "document"


class Notification(SQLModel, table=True):
    """One outbound message; ``key`` (case, kind, stage, recipient) makes it exactly-once."""

    __tablename__ = "notifications"

    __table_args__ = (sa.Index("ix_notifications_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    kind: str = Field(max_length=40)
    chat_id: int = Field(sa_type=sa.BigInteger, index=True)
    recipient_kind: RecipientKind = Field(sa_type=enum_type(RecipientKind, 12))
    recipient_id: int | None = None
    method: SendMethod = Field(default=SendMethod.MESSAGE, sa_type=enum_type(SendMethod, 12))
    text: str = Field(sa_type=sa.Text)
    reply_markup: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    document_id: int | None = Field(default=None, foreign_key="documents.id")
    status: NotificationStatus = Field(
        default=NotificationStatus.PENDING, sa_type=enum_type(NotificationStatus, 16)
    )
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # set, and committed, just before each request to Telegram; cleared with its answer
    attempted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=500)
    telegram_message_id: int | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
