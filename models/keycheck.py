"""Which keys this database was written with: a wrong or missing key is found at start-up."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class KeyCheck(SQLModel, table=True):
    """One key the database holds data under: ``audit`` (exactly one: the chains' key) or
    ``data`` (every data key some sealed value may still need). Only the key's public id and a
    check value (an HMAC under the key) are kept, never the key."""

    __tablename__ = "key_checks"

    purpose: str = Field(primary_key=True, max_length=8)
    key_id: str = Field(primary_key=True, max_length=8)
    check_value: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
