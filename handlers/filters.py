"""Reading what the reporter sent: which messages carry evidence, and the evidence they carry."""

from __future__ import annotations

from aiogram import F
from aiogram.types import Message

from models.attachment import MediaKind
from models.intake import Evidence

MEDIA = F.photo | F.document | F.voice | F.audio | F.video
"""Messages that carry a file we keep as evidence."""

TEXT = F.text & ~F.text.startswith("/")
"""Typed text that is not a command."""


def evidence_of(message: Message) -> Evidence | None:
    """The file in a message as evidence (kind, ids, name, type, size), or None."""
    if message.photo:
        photo = message.photo[-1]
        return Evidence(
            kind=MediaKind.PHOTO,
            file_id=photo.file_id,
            file_unique_id=photo.file_unique_id,
            mime_type="image/jpeg",
            file_size=photo.file_size,
        )
    for kind, item in (
        (MediaKind.DOCUMENT, message.document),
        (MediaKind.VOICE, message.voice),
        (MediaKind.AUDIO, message.audio),
        (MediaKind.VIDEO, message.video),
    ):
        if item is not None:
            return Evidence(
                kind=kind,
                file_id=item.file_id,
                file_unique_id=item.file_unique_id,
                file_name=getattr(item, "file_name", None),
                mime_type=getattr(item, "mime_type", None),
                file_size=item.file_size,
            )
    return None
