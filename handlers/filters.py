"""Reading what the reporter sent: which messages carry evidence, and the evidence they carry."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from aiogram import F
from aiogram.types import Message

from models.attachment import MediaKind
from models.errors import InvalidInput
from models.intake import EVIDENCE_MAX, FILE_MAX_BYTES, Evidence, check_name

MEDIA = F.photo | F.document | F.voice | F.audio | F.video
"""Messages that carry a file we keep as evidence."""

TEXT = F.text & ~F.text.startswith("/")
"""Typed text that is not a command."""

UNSUPPORTED = "不支持此类内容，请发送图片、文件、语音或视频。"


def evidence_of(message: Message) -> dict[str, Any] | None:
    """The file in a message as JSON-ready evidence (kind, ids, name, type, size), or None."""
    if message.photo:
        photo = message.photo[-1]
        return {
            "kind": MediaKind.PHOTO.value,
            "file_id": photo.file_id,
            "file_unique_id": photo.file_unique_id,
            "file_name": None,
            "mime_type": "image/jpeg",
            "file_size": photo.file_size,
        }
    for kind, item in (
        (MediaKind.DOCUMENT, message.document),
        (MediaKind.VOICE, message.voice),
        (MediaKind.AUDIO, message.audio),
        (MediaKind.VIDEO, message.video),
    ):
        if item is not None:
            return {
                "kind": kind.value,
                "file_id": item.file_id,
                "file_unique_id": item.file_unique_id,
                "file_name": getattr(item, "file_name", None),
                "mime_type": getattr(item, "mime_type", None),
                "file_size": item.file_size,
            }
    return None


def add_evidence(items: list[dict[str, Any]], item: dict[str, Any]) -> list[dict[str, Any]]:
    """The list with ``item`` added: at most 10 files of at most 20 MB, each file once."""
    if (item.get("file_size") or 0) > FILE_MAX_BYTES:
        raise InvalidInput("文件超过20MB，无法接收。请压缩或分成几个文件后重新发送。")
    if any(existing["file_unique_id"] == item["file_unique_id"] for existing in items):
        raise InvalidInput("这个文件已经添加过了。")
    if len(items) >= EVIDENCE_MAX:
        raise InvalidInput(f"最多上传{EVIDENCE_MAX}个附件，请点“完成”继续。")
    return [*items, item]


def as_evidence(items: Iterable[dict[str, Any]]) -> tuple[Evidence, ...]:
    return tuple(
        Evidence(
            kind=MediaKind(item["kind"]),
            file_id=item["file_id"],
            file_unique_id=item["file_unique_id"],
            file_name=item.get("file_name"),
            mime_type=item.get("mime_type"),
            file_size=item.get("file_size"),
        )
        for item in items
    )


def kinds_label(items: Iterable[dict[str, Any]]) -> str:
    """``图片2、文件1``."""
    counts = Counter(MediaKind(item["kind"]) for item in items)
    return "、".join(f"{kind.label}{n}" for kind, n in counts.items())


def valid_name(text: str) -> str | None:
    """``text`` as a name if it passes the name rule (a Telegram profile name may not)."""
    try:
        return check_name(text)
    except InvalidInput:
        return None
