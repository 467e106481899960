"""Counters of the rate limits that several instances share, when no Redis is configured."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class RateCounter(SQLModel, table=True):
    """Hits of one subject (a hash of a client address, a card) on one limit in one window.
    ``key`` names the limit, the subject's hash and the window; the row is worthless once the
    window has passed (``expires_at``) and is purged."""

    __tablename__ = "rate_counters"

    key: str = Field(max_length=160, primary_key=True)
    count: int = 0
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
