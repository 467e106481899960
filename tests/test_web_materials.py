"""查看材料 for a web report's files: uploaded from the blob store the first time, cleaned of
metadata, then sent by the file id Telegram gave them."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from aiogram.types import BufferedInputFile
from PIL import Image
from sqlmodel import col, select

from bot.blobs import BlobStore, DirectoryBlobStore
from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.dispatcher import create_dispatcher
from bot.services.intake import submit_case
from bot.services.policy import Policy
from bot.settings import Settings
from bot.storage import SqlStorage
from models.attachment import Attachment
from models.calendar import WorkCalendar
from models.filecheck import check_file
from models.intake import CaseDraft, Evidence
from tests.harness import Telegram
from tests.inspector_support import INSPECTOR, REFUND, deliver, make_people, user
from tests.test_filecheck import photo_with_gps

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

NAMED: dict[str, Any] = {
    "anonymous": False,
    "contact_name": "宋利剑",
    "contact_phone": "13812345678",
}


def bot_with(
    blobs: BlobStore,
    *,
    sessions: SessionFactory,
    config: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> Telegram:
    """The bot as ``lianka run`` builds it, with the web channel's blob store, on a fake Telegram."""
    return Telegram.create(
        create_dispatcher(
            settings=Settings(),
            config=config,
            sessions=sessions,
            calendar=calendar,
            storage=SqlStorage(sessions),
            clock=clock,
            blobs=blobs,
        )
    )


async def test_inspector_receives_web_files_uploaded_once_then_by_file_id(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    people = await make_people(sessions, clock)
    blobs = DirectoryBlobStore(tmp_path / "blobs")
    evidence = []
    for data, name in ((photo_with_gps(), "IMG_0001.JPG"), (PDF, "材料.pdf")):
        checked = check_file(data, name)
        key = await blobs.put(checked.data)
        evidence.append(
            Evidence.from_blob(
                checked.kind,
                key,
                file_name=checked.file_name,
                mime_type=checked.mime_type,
                file_size=len(checked.data),
            )
        )
    draft = CaseDraft(  # named: an anonymous case's files go as 材料N (test_anonymity.py)
        category_code="business_env", description=REFUND, evidence=tuple(evidence), **NAMED
    )
    async with sessions() as session:
        result = await submit_case(
            session, people.reporter, draft, policy=Policy(catalog, calendar), now=clock.now()
        )
    case = result.case

    tg = bot_with(blobs, sessions=sessions, config=catalog, calendar=calendar, clock=clock)
    inspector = user(tg, INSPECTOR, "李监督")
    await deliver(tg, sessions)
    assignment = inspector.messages[-1]
    assert case.number in assignment.text

    await inspector.click("查看材料", message=assignment)
    assert "附件 2 个" in inspector.replies[0]
    sent = [s for s in tg.session.sent if s.chat_id == INSPECTOR and s.document is not None]
    assert [s.method for s in sent] == ["sendPhoto", "sendDocument"]
    photo, pdf = (s.document for s in sent)
    assert isinstance(photo, BufferedInputFile) and isinstance(pdf, BufferedInputFile)
    assert pdf.data == PDF and pdf.filename == "材料.pdf"
    assert photo.filename == "IMG_0001.jpg"
    received = Image.open(io.BytesIO(photo.data))
    assert dict(received.getexif()) == {} and b"TestCam" not in photo.data

    async with sessions() as session:
        rows = (
            await session.exec(
                select(Attachment).where(Attachment.case_id == case.id).order_by(col(Attachment.id))
            )
        ).all()
    assert [(r.file_id, r.file_unique_id) for r in rows] == [
        (f"ph-{sent[0].message_id}", f"uph-{sent[0].message_id}"),
        (f"doc-{sent[1].message_id}", f"udoc-{sent[1].message_id}"),
    ]
    assert all(r.blob_sha256 for r in rows)

    # the second time: by file id, nothing uploaded
    await inspector.click("查看材料", message=assignment)
    again = [s for s in tg.session.sent if s.chat_id == INSPECTOR and s.document is not None][2:]
    assert [(s.method, s.document) for s in again] == [
        ("sendPhoto", rows[0].file_id),
        ("sendDocument", rows[1].file_id),
    ]


async def test_a_missing_blob_is_named_to_the_inspector_and_the_other_files_still_come(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
    tmp_path: Path,
    caplog,
) -> None:
    people = await make_people(sessions, clock)
    blobs = DirectoryBlobStore(tmp_path / "blobs")
    kept = await blobs.put(PDF)
    lost = "0" * 64
    evidence = tuple(
        Evidence.from_blob(
            check_file(PDF).kind,
            key,
            file_name=f"{n}.pdf",
            mime_type="application/pdf",
            file_size=9,
        )
        for n, key in enumerate((lost, kept))
    )
    draft = CaseDraft(category_code="business_env", description=REFUND, evidence=evidence, **NAMED)
    async with sessions() as session:
        await submit_case(
            session, people.reporter, draft, policy=Policy(catalog, calendar), now=clock.now()
        )
    tg = bot_with(blobs, sessions=sessions, config=catalog, calendar=calendar, clock=clock)
    inspector = user(tg, INSPECTOR, "李监督")
    await deliver(tg, sessions)
    await inspector.click("查看材料", message=inspector.messages[-1])
    sent = [s for s in tg.session.sent if s.chat_id == INSPECTOR and s.document is not None]
    assert [s.document.filename for s in sent] == ["1.pdf"]
    assert "blob is missing" in caplog.text and lost not in caplog.text
    told = [m.text for m in inspector.messages if "0.pdf" in (m.text or "")]
    assert told == ["抱歉，材料“0.pdf”的文件已缺失，无法发送。其他材料不受影响，请联系管理员核查。"]
