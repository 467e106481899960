"""查看材料: the description, files and (for a named appeal) the contact, each viewing recorded."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.blobs import BlobStore
from bot.services.case_lists import require_view
from bot.services.permissions import actor_of, cleaned_files, load_case, may_view_identity
from models.anonymity import confidential, enterprise_line, hides_enterprise
from models.attachment import Attachment
from models.case import Case
from models.case import reporter_line as reporter_line_of
from models.enterprise import Enterprise
from models.errors import InvalidInput
from models.event import EventKind, record_event
from models.filecheck import Material, clean_material
from models.org import Category, Zone
from models.reporter import ReporterContact
from models.team import Inspector

logger = logging.getLogger(__name__)


class TelegramFiles(Protocol):
    """Fetches a file a reporter sent in Telegram, by its ``file_id``, through the Bot API
    (``bot.app.BotFiles``); the console shows such files on demand."""

    async def download(self, file_id: str) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Contact:
    name: str
    phone: str


@dataclass(frozen=True, slots=True)
class Materials:
    """What 查看材料 shows: the full description, the files, and the reporter's contact only for
    a named appeal."""

    case: Case
    category: str
    zone: str | None
    enterprise: str | None
    attachments: list[Attachment]
    contact: Contact | None
    reporter_line: str
    cleaned: bool = False
    """Files cleaned and named 材料N for this viewer (``permissions.cleaned_files``)."""

    @property
    def confidential(self) -> bool:
        """An anonymous case or a clue, or a 协办 team's viewer: its files reach them cleaned and
        named 材料N."""
        return self.cleaned or confidential(self.case)

    @property
    def enterprise_line(self) -> str | None:
        """企业 as staff see it: hidden on a clue, and on an anonymous appeal shown with why."""
        return enterprise_line(self.case, self.enterprise)


async def view_materials(
    session: AsyncSession,
    actor: Inspector,
    case_id: int,
    *,
    now: datetime,
) -> Materials:
    """查看材料: the description and evidence for those who may see the case; a named appeal's
    contact too, and each time it is shown an IDENTITY_VIEWED event records who saw it."""
    case = await load_case(session, case_id)
    await require_view(session, actor, case)
    assert case.id is not None
    category = await session.get(Category, case.category_id)
    zone = await session.get(Zone, case.zone_id) if case.zone_id else None
    enterprise = None
    if not hides_enterprise(case) and case.enterprise_id is not None:
        row = await session.get(Enterprise, case.enterprise_id)
        enterprise = row.name if row else None
    attachments = list(
        (
            await session.exec(
                select(Attachment).where(Attachment.case_id == case.id).order_by(col(Attachment.id))
            )
        ).all()
    )
    contact = None
    reporter_line = reporter_line_of(case.track, anonymous=case.anonymous, named="实名")
    if may_view_identity(actor, case):  # never an admin, a clue or an anonymous case
        row_contact = await session.get(ReporterContact, case.id)
        if row_contact is not None:
            contact = Contact(row_contact.name_plain(), row_contact.phone_plain())
            session.add(
                record_event(
                    case,
                    EventKind.IDENTITY_VIEWED,
                    actor_of(actor),
                    now,
                    data={"viewer": actor.id, "role": actor.role.value},
                )
            )
            session.add(case)
            logger.info("identity of case %s shown to inspector %s", case.id, actor.id)
    await session.commit()
    return Materials(
        case=case,
        category=category.name if category else "",
        zone=zone.name if zone else None,
        enterprise=enterprise,
        attachments=attachments,
        contact=contact,
        reporter_line=reporter_line,
        cleaned=cleaned_files(actor, case),
    )


async def remember_telegram_file(
    session: AsyncSession, attachment_id: int, *, file_id: str, file_unique_id: str
) -> None:
    """A web file sent to Telegram for the first time: the file id Telegram gave it is kept, so
    it is sent by that id from now on instead of being uploaded again."""
    row = await session.get(Attachment, attachment_id)
    if row is None or row.file_id:
        return
    row.file_id, row.file_unique_id = file_id, file_unique_id
    session.add(row)
    await session.commit()
    logger.info("attachment %s now has a Telegram file id", attachment_id)


async def material_for_staff(
    item: Attachment,
    number: int,
    *,
    blobs: BlobStore,
    telegram: TelegramFiles,
) -> Material:
    """The ``number``-th file of an anonymous case or a clue as an inspector gets it: its bytes
    (from the blob store, or fetched from Telegram: a file id would carry the reporter's file
    name and whatever the file says of its author), cleaned and named ``材料N.ext``.
    ``InvalidInput`` when it cannot be cleaned (``filecheck.UNCLEANABLE``): it is withheld;
    ``BlobMissing`` when a web file's bytes are gone."""
    if item.blob_sha256 is not None:
        data = await blobs.get(item.blob_sha256)
    else:
        assert item.file_id is not None
        data = await telegram.download(item.file_id)
    try:
        stored = item.blob_sha256 is not None
        return await asyncio.to_thread(clean_material, data, number, stored=stored)
    except InvalidInput:
        logger.warning("attachment %s withheld: it could not be cleaned", item.id)
        raise
