"""Evidence and material attached to a case, kept by Telegram file_id."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.event import ActorType
from models.types import UTCDateTime, enum_type


class MediaKind(enum.StrEnum):
    PHOTO = "photo"
    DOCUMENT = "document"
    VOICE = "voice"
    AUDIO = "audio"
    VIDEO = "video"

    @property
    def label(self) -> str:
        return {
            "photo": "图片",
            "document": "文件",
            "voice": "语音",
            "audio": "音频",
            "video": "视频",
        }[self.value]


class Attachment(SQLModel, table=True):
    """A photo, document or voice message; Telegram keeps the bytes, we keep the file_id."""

    __tablename__ = "attachments"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    kind: MediaKind = Field(sa_type=enum_type(MediaKind, 12))
    file_id: str = Field(max_length=255)
    file_unique_id: str = Field(max_length=64)
    file_name: str | None = Field(default=None, max_length=255)
    mime_type: str | None = Field(default=None, max_length=100)
    file_size: int | None = Field(default=None, sa_type=sa.BigInteger)
    added_by: ActorType = Field(sa_type=enum_type(ActorType, 12))
    created_at: datetime = Field(sa_type=UTCDateTime)
