"""The outbox: every message Lianka sends is first a row here, written with the change."""

from __future__ import annotations

import enum
from dataclasses import dataclass
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


class Offer(enum.StrEnum):
    """What a notice lets its recipient do; each channel shows it its own way (Telegram: the
    buttons under the message). The value is stored in the outbox row, so never rename one."""

    CASE_WORK = "case_work"  # the assignee's work: 签收 · 退回 · 查看材料 · 提问 · 记录进展 · 申请延期 · 办结
    CASE_MATERIALS = "case_materials"  # 查看材料
    LEADER_ASSIGN = "leader_assign"  # 分派, for a case waiting in the team's queue
    FOLLOWUP = "followup"  # 满意 · 基本满意 · 不满意, the reporter at 回访
    REQUEST_DECISION = "request_decision"  # 同意 · 不同意, on a request (the ref is the request)
    RELAY_REPLY = "relay_reply"  # 回复 to a relayed question (the ref is the relay message)

    def on(self, ref: int | None) -> Offering:
        """This offer on one case, request or relay message."""
        assert ref is not None, f"{self} needs the id it acts on"
        return Offering(self, ref)


@dataclass(frozen=True, slots=True)
class Offering:
    """An offer and the id of what it acts on: a case, a request (REQUEST_DECISION) or a relay
    message (RELAY_REPLY)."""

    offer: Offer
    ref: int


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
    # what the recipient may do, rendered by the channel when the notice is sent
    offer: Offer | None = Field(default=None, sa_type=enum_type(Offer, 24))
    offer_ref: int | None = None
    # a Telegram keyboard as the Bot API takes it: rows queued before ``offer`` existed
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

    @property
    def offering(self) -> Offering | None:
        """What the notice offers, if anything (rows from before ``offer`` carry a keyboard)."""
        if self.offer is None or self.offer_ref is None:
            return None
        return Offering(self.offer, self.offer_ref)
