"""Files on the web (the report's 相关材料 and the tracking page's 补充材料): read from a
multipart form as they stream in, each capped at the report's file size while it is read,
recognised and cleaned by ``models.filecheck``, added to the draft through the one file rule
(``with_file``: ``IntakeDraft.add_evidence``, ``MaterialDraft.add_file``) and only then kept in
the blob store. The draft is saved (or the material submitted) by the caller after the whole body
was read, so an upload cut off half-way leaves nothing referenced (a blob already kept from that
request is referenced by nothing, and ``bot.blobs.purge_orphan_blobs`` removes it after its grace
period). Nothing about a file (its name, its bytes, its hash) is logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from aiohttp import BodyPartReader, web

from bot.blobs import BlobStore, blob_key
from models.errors import InvalidInput
from models.filecheck import check_file, clean_name
from models.intake import DESCRIPTION_MAX, EVIDENCE_MAX, FILE_MAX_BYTES, Evidence, IntakeDraft

logger = logging.getLogger(__name__)

FILES_FIELD = "files"
FIELD_MAX = 2 * 4 * DESCRIPTION_MAX
"""A form's plain field, in bytes: the token, the button, or 补充说明 (``DESCRIPTION_MAX``
characters of up to 4 bytes), read to twice that so a longer note is refused by its rule
rather than cut."""
CHUNK = 256 * 1024
UPLOAD_MAX_BODY = EVIDENCE_MAX * FILE_MAX_BYTES + 1024 * 1024
"""The one route whose body may be large: ten files of 20 MB and the form around them."""

TOO_LARGE = (
    f"文件超过{FILE_MAX_BYTES // (1024 * 1024)}MB，无法接收。请压缩或分成几个文件后重新上传。"
)
BODY_TOO_LARGE = (
    f"一次上传的文件过大（合计超过{UPLOAD_MAX_BODY // (1024 * 1024)}MB），未保存。请分几次上传。"
)


class UploadTooLarge(Exception):
    """The body went past ``UPLOAD_MAX_BODY`` while it was read (sent without a length)."""


D = TypeVar("D")
"""What the files go into: the report's ``IntakeDraft`` or 补充材料's ``MaterialDraft``."""


@dataclass
class Received(Generic[D]):
    """What one form with files brought: the draft with the files that passed, the form's other
    fields, and a Chinese line for each file refused (named, so the reporter knows which)."""

    draft: D
    fields: dict[str, str] = field(default_factory=dict)
    added: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class _Budget:
    left: int

    def spend(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise UploadTooLarge


async def _read_field(part: BodyPartReader, budget: _Budget) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(FIELD_MAX):
        budget.spend(len(chunk))
        if len(data) <= FIELD_MAX:
            data.extend(chunk)
    return bytes(data[:FIELD_MAX]).decode("utf-8", errors="replace")


async def _read_file(part: BodyPartReader, budget: _Budget) -> bytes | None:
    """The file's bytes, or None once it passed ``FILE_MAX_BYTES`` (the rest is read and
    dropped, so the form's other files still come through)."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await part.read_chunk(CHUNK):
        budget.spend(len(chunk))
        size += len(chunk)
        if size > FILE_MAX_BYTES:
            chunks.clear()
        else:
            chunks.append(chunk)
    return None if size > FILE_MAX_BYTES else b"".join(chunks)


async def receive_files(
    request: web.Request,
    start: Callable[[dict[str, str]], Awaitable[IntakeDraft]],
    *,
    blobs: BlobStore,
) -> Received[IntakeDraft]:
    """相关材料 on the web report: ``receive_evidence`` into the report's draft."""
    return await receive_evidence(request, start, add=IntakeDraft.add_evidence, blobs=blobs)


async def receive_evidence(
    request: web.Request,
    start: Callable[[dict[str, str]], Awaitable[D]],
    *,
    add: Callable[[D, Evidence], D],
    blobs: BlobStore,
) -> Received[D]:
    """Read the form: its plain fields, then each file checked, cleaned, added (``add``, which
    raises ``InvalidInput`` with the rule's words) and kept in turn. ``start`` gets the fields
    that came before the first file (or all of them, when no file came) and returns the draft
    they belong to, or raises (a missing form token, a stale form): no file is read before it
    has answered. ``UploadTooLarge`` past ``UPLOAD_MAX_BODY``."""
    fields: dict[str, str] = {}
    received: Received[D] | None = None
    budget = _Budget(UPLOAD_MAX_BODY)
    if request.content_type != "multipart/form-data":
        raise InvalidInput("表单格式不正确，请重新提交。")
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise InvalidInput("表单格式不正确，请重新提交。")
        if part.filename is None:
            fields[part.name or ""] = await _read_field(part, budget)
            continue
        if received is None:
            received = Received(draft=await start(fields), fields=fields)
        await _take_file(received, part, add=add, blobs=blobs, budget=budget)
    if received is None:
        received = Received(draft=await start(fields), fields=fields)
    if received.problems:
        logger.info(
            "web upload: %s file(s) refused, %s kept", len(received.problems), received.added
        )
    return received


async def _take_file(
    received: Received[D],
    part: BodyPartReader,
    *,
    add: Callable[[D, Evidence], D],
    blobs: BlobStore,
    budget: _Budget,
) -> None:
    """One file of the form: read within its cap, checked, cleaned, added, kept; or named in
    ``received.problems`` with why."""
    filename = part.filename or ""
    data = await _read_file(part, budget)
    if data is not None and not data and not filename:
        return  # the file box left empty
    shown = clean_name(filename) or "文件"
    if data is None:
        received.problems.append(f"{shown}：{TOO_LARGE}")
        return
    try:
        # Decoding and re-encoding a photo takes tens of milliseconds of CPU: in a thread,
        # so the event loop serves the other pages meanwhile (Pillow releases the GIL).
        checked = await asyncio.to_thread(check_file, data, filename)
        item = Evidence.from_blob(
            checked.kind,
            blob_key(checked.data),
            file_name=checked.file_name,
            mime_type=checked.mime_type,
            file_size=len(checked.data),
        )
        received.draft = add(received.draft, item)
    except InvalidInput as error:
        received.problems.append(f"{shown}：{error.message}")
        return
    await blobs.put(checked.data)
    received.added += 1
