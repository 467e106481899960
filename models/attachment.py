"""Evidence and material attached to a case: a chat file kept by its Telegram file_id, a web
upload by the SHA-256 of its bytes in the blob store (and, once sent, its Telegram file_id)."""

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
    """A photo, document, voice message, audio or video. From the chat Telegram keeps the bytes
    and we keep the file_id; from the web the blob store keeps them (``blob_sha256``), and the
    file_id Telegram gives when it is first sent to an inspector is kept to send it again."""

    __tablename__ = "attachments"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    kind: MediaKind = Field(sa_type=enum_type(MediaKind, 12))
    file_id: str | None = Field(default=None, max_length=255)
    file_unique_id: str | None = Field(default=None, max_length=64)
    blob_sha256: str | None = Field(default=None, max_length=64, index=True)
    file_name: str | None = Field(default=None, max_length=255)
    mime_type: str | None = Field(default=None, max_length=100)
    file_size: int | None = Field(default=None, sa_type=sa.BigInteger)
    added_by: ActorType = Field(sa_type=enum_type(ActorType, 12))
    created_at: datetime = Field(sa_type=UTCDateTime)


class Blob(SQLModel, table=True):
    """A web upload's bytes, named by their SHA-256, for the database blob store (the one every
    instance shares); its bytes written once, never changed (``created_at``: when last put, for
    the orphan purge's grace)."""

    __tablename__ = "blobs"

    sha256: str = Field(primary_key=True, max_length=64)
    size: int = Field(sa_type=sa.BigInteger)
    content: bytes = Field(sa_type=sa.LargeBinary)
    created_at: datetime = Field(sa_type=UTCDateTime)
