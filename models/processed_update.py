"""Telegram updates already handled, so that one delivered again is not handled twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import JSONType, UTCDateTime


class ProcessedUpdate(SQLModel, table=True):
    """One update of one bot, recorded in the transaction of the use case it ran (or, for an
    update that changed nothing but the conversation state, right after its handler).
    ``finished``: nothing is left to do for it if it is delivered again (its handler returned,
    so its reply went out too; or, for an update with nothing to resume, its use case committed:
    ``bot.middlewares.UpdateDeduplication``)."""

    __tablename__ = "processed_updates"

    bot_id: int = Field(
        sa_type=sa.BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    update_id: int = Field(
        sa_type=sa.BigInteger, primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    handled_at: datetime = Field(sa_type=UTCDateTime, index=True)
    finished: bool = False
    # with a conversation-state store outside the database (Redis): the state the update leaves,
    # kept until it has been written there (``bot.storage.DeferredStorage``)
    fsm_writes: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
