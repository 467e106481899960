"""Conversation state of the bot (its FSM storage), kept in the database by default."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from models.types import JSONType, UTCDateTime


class FsmRecord(SQLModel, table=True):
    """The state and draft of one conversation (bot, chat, user, thread)."""

    __tablename__ = "fsm_records"

    key: str = Field(max_length=200, primary_key=True)
    state: str | None = Field(default=None, max_length=200)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    updated_at: datetime = Field(sa_type=UTCDateTime)
