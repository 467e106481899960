"""A file Lianka sends (the analysis report's PDF), kept in the database with the outbox.

The bytes live here rather than on one host's disk so that any instance's sender can deliver the
row; one copy serves every leader it goes to (``sha256`` is unique).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime

MAX_DOCUMENT_BYTES = 50 * 1024 * 1024  # the Bot API's upload limit for sendDocument


class StoredDocument(SQLModel, table=True):
    __tablename__ = "documents"

    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(max_length=64, unique=True)
    filename: str = Field(max_length=200)
    size: int
    content: bytes = Field(sa_type=sa.LargeBinary)
    created_at: datetime = Field(sa_type=UTCDateTime)


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
