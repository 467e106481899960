"""提问: questions relayed between an inspector and a reporter through the bot."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime, enum_type


class RelayStatus(enum.StrEnum):
    OPEN = "open"  # waiting for the reporter; the resolve clock is paused
    ANSWERED = "answered"
    CANCELLED = "cancelled"


class RelayMessage(SQLModel, table=True):
    """A question from an inspector and the reporter's answer; neither sees the other's account."""

    __tablename__ = "relay_messages"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    inspector_id: int = Field(foreign_key="inspectors.id")
    question: str = Field(sa_type=sa.Text)
    answer: str | None = Field(default=None, sa_type=sa.Text)
    status: RelayStatus = Field(default=RelayStatus.OPEN, sa_type=enum_type(RelayStatus, 12))
    asked_at: datetime = Field(sa_type=UTCDateTime)
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reporter_message_id: int | None = None  # the question as the reporter received it
