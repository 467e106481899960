"""The console's 联系卡 pages: the use cases of ``lianka cards`` for a signed-in admin.

The command line is trusted on the server; here every entry point takes the acting person and
refuses anyone but an active admin before anything else. A CSV is checked before anything is
written: the file goes into the blob store inside an envelope naming who checked it and when,
and the confirmation brings back only its key, so what is imported is exactly the file the
server checked, for the admin who checked it, within the hour.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import math
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.blobs import BlobMissing, BlobStore
from bot.config import LiankaConfig
from bot.services.cards import (
    BatchRow,
    CardFilter,
    CardListing,
    ImportReport,
    Reissued,
    card_faces,
    count_cards,
    import_cards,
    list_cards,
    list_print_batches,
    mark_printed,
    reissue_card,
    revoke_card,
    select_cards_for_print,
    zone_problems,
)
from bot.services.inspectors import require_active_admin
from cards.csvfile import CsvFileError, EnterpriseList, RowProblem, read_enterprise_list
from cards.fonts import CjkFontMissing, find_cjk_font
from cards.layout import PER_PAGE
from cards.printing import render_pdf
from cards.tokens import printed_card_link
from models.card import Card, CardScan, PrintBatch
from models.enterprise import Enterprise
from models.errors import DomainError, InvalidInput, NotFound, StaleAction
from models.org import Zone
from models.team import Inspector

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
IMPORT_TTL = timedelta(hours=1)
IMPORT_MAX_BYTES = 5 * 1024 * 1024
RECENT_SCANS = 20
_GONE = datetime(9999, 1, 1, tzinfo=UTC)  # a remove() cutoff that every put precedes


class ImportExpired(StaleAction):
    message = "导入文件已过期或已导入，请重新上传并检查。"


@dataclass(frozen=True, slots=True)
class CardPage:
    """One page of the card list, with what the filters offer."""

    items: list[CardListing]
    total: int
    page: int
    pages: int
    zones: list[Zone]


async def list_zones(session: AsyncSession) -> list[Zone]:
    """The active zones, in the config's order."""
    return list(
        (await session.exec(select(Zone).where(col(Zone.active)).order_by(col(Zone.id)))).all()
    )


async def list_import_zones(session: AsyncSession, actor: Inspector) -> list[Zone]:
    """The zones a CSV may name (by code or name), for the import form."""
    require_active_admin(actor)
    return await list_zones(session)


async def list_card_page(
    session: AsyncSession, actor: Inspector, which: CardFilter, *, page: int = 1
) -> CardPage:
    """A page of 50 cards as ``which`` chooses, oldest first."""
    require_active_admin(actor)
    total = await count_cards(session, which)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(1, page), pages)
    items = await list_cards(session, which=which, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    return CardPage(items, total, page, pages, await list_zones(session))


@dataclass(frozen=True, slots=True)
class CardDetail:
    """A card with its enterprise, zone, batch, latest scans and the enterprise's other cards."""

    card: Card
    enterprise: Enterprise
    zone: Zone | None
    batch: PrintBatch | None
    scans: list[datetime]
    family: list[Card]


async def get_card_detail(session: AsyncSession, actor: Inspector, card_id: int) -> CardDetail:
    """What the card page shows."""
    require_active_admin(actor)
    card = await session.get(Card, card_id)
    if card is None:
        raise NotFound(f"联系卡 {card_id} 不存在。")
    enterprise = await session.get(Enterprise, card.enterprise_id)
    assert enterprise is not None
    zone = await session.get(Zone, card.zone_id) if card.zone_id is not None else None
    batch = await session.get(PrintBatch, card.batch_id) if card.batch_id is not None else None
    scans = await session.exec(
        select(CardScan.scanned_at)
        .where(CardScan.card_id == card_id)
        .order_by(col(CardScan.scanned_at).desc())
        .limit(RECENT_SCANS)
    )
    family = await session.exec(
        select(Card).where(Card.enterprise_id == card.enterprise_id).order_by(col(Card.id))
    )
    return CardDetail(card, enterprise, zone, batch, list(scans.all()), list(family.all()))


async def revoke_card_by(
    session: AsyncSession, actor: Inspector, card_id: int, now: datetime
) -> Card:
    """An admin revokes a card (``lianka cards revoke``): its QR code stops working."""
    require_active_admin(actor)
    card = await revoke_card(session, card_id, now)
    logger.info("card %s revoked by inspector %s in the console", card.id, actor.id)
    return card


async def reissue_card_by(
    session: AsyncSession, actor: Inspector, card_id: int, now: datetime
) -> Reissued:
    """An admin replaces a card (``lianka cards reissue``): a new token, the old one revoked."""
    require_active_admin(actor)
    result = await reissue_card(session, card_id, now)
    logger.info(
        "card %s reissued as card %s by inspector %s in the console",
        result.old.id,
        result.new.id,
        actor.id,
    )
    return result


@dataclass(frozen=True, slots=True)
class CheckedImport:
    """A checked file: the key to confirm it by, its good rows and its bad lines."""

    key: str
    file_name: str
    good_rows: int
    problems: list[RowProblem]


@dataclass(frozen=True, slots=True)
class ConfirmedImport:
    """What an import wrote, and the lines it left out."""

    file_name: str
    report: ImportReport
    problems: list[RowProblem] = field(default_factory=list)


def _parse(data: bytes) -> EnterpriseList:
    if not data:
        raise InvalidInput("请选择要导入的 CSV 文件。")
    if len(data) > IMPORT_MAX_BYTES:
        raise InvalidInput(f"文件过大，请不要超过 {IMPORT_MAX_BYTES // 1024 // 1024} MB。")
    try:
        return read_enterprise_list(data)
    except CsvFileError as error:
        raise InvalidInput(f"{error}。") from None


async def _checked(
    session: AsyncSession, config: LiankaConfig, data: bytes
) -> tuple[EnterpriseList, list[RowProblem], int]:
    """The parsed file, every line that would not be imported (the file's own problems and the
    rows naming an unknown zone), by line, and how many rows would be."""
    parsed = _parse(data)
    misses = await zone_problems(session, config, parsed.rows)
    problems = sorted(parsed.problems + misses, key=lambda problem: problem.line)
    return parsed, problems, len(parsed.rows) - len(misses)


async def check_card_import(
    session: AsyncSession,
    actor: Inspector,
    *,
    config: LiankaConfig,
    blobs: BlobStore,
    data: bytes,
    file_name: str,
    now: datetime,
) -> CheckedImport:
    """Check an uploaded enterprise list and keep it for an hour for its confirmation; nothing
    is imported."""
    require_active_admin(actor)
    _, problems, good_rows = await _checked(session, config, data)
    envelope = {
        "inspector_id": actor.id,
        "checked_at": now.isoformat(),
        "file_name": file_name[:200],
        "nonce": secrets.token_hex(16),
        "data": base64.b64encode(data).decode("ascii"),
    }
    key = await blobs.put(json.dumps(envelope).encode("utf-8"))
    return CheckedImport(key, file_name[:200], good_rows, problems)


async def _open_envelope(
    blobs: BlobStore, key: str, actor: Inspector, now: datetime
) -> tuple[str, bytes]:
    try:
        envelope = json.loads(await blobs.get(key))
        checked_at = datetime.fromisoformat(envelope["checked_at"])
        data = base64.b64decode(envelope["data"], validate=True)
        file_name = str(envelope["file_name"])
    except (BlobMissing, ValueError, KeyError, TypeError, binascii.Error):
        raise ImportExpired(detail="no such checked import") from None
    if envelope.get("inspector_id") != actor.id or not now - IMPORT_TTL < checked_at <= now:
        raise ImportExpired(detail="checked import of someone else, or too old")
    return file_name, data


async def confirm_card_import(
    session: AsyncSession,
    actor: Inspector,
    *,
    config: LiankaConfig,
    blobs: BlobStore,
    key: str,
    only_good: bool,
    now: datetime,
) -> ConfirmedImport:
    """Import a file this admin checked within the hour, once: with bad lines only when asked
    to import the good rows alone (as ``lianka cards import`` does)."""
    require_active_admin(actor)
    file_name, data = await _open_envelope(blobs, key, actor, now)
    parsed, problems, good_rows = await _checked(session, config, data)
    if not good_rows:
        raise InvalidInput("文件中没有可导入的行，请修改后重新上传。")
    if problems and not only_good:
        raise InvalidInput("文件中有错误的行，请修改后重新上传，或选择仅导入无误的行。")
    await blobs.remove([key], cutoff=_GONE)
    report = await import_cards(session, config, now, parsed.rows, note=file_name)
    logger.info(
        "card import by inspector %s in the console: batch %s, %s cards, %s enterprises "
        "created, %s already carded, %s lines left out",
        actor.id,
        report.batch_id,
        len(report.issued),
        report.enterprises_created,
        len(report.already_carded),
        len(problems),
    )
    return ConfirmedImport(file_name, report, problems)


@dataclass(frozen=True, slots=True)
class PrintOptions:
    zones: list[Zone]
    batches: list[BatchRow]


async def get_print_options(session: AsyncSession, actor: Inspector) -> PrintOptions:
    """The zones and batches the print form offers."""
    require_active_admin(actor)
    return PrintOptions(await list_zones(session), await list_print_batches(session))


@dataclass(frozen=True, slots=True)
class PrintedCards:
    """The PDF of a print run and what is in it."""

    pdf: bytes
    cards: int
    pages: int
    skipped_revoked: list[int]


async def print_cards(
    session: AsyncSession,
    actor: Inspector,
    *,
    config: LiankaConfig,
    which: CardFilter,
    batch_id: int | None,
    bot_username: str,
    public_url: str | None,
) -> PrintedCards:
    """The A4 PDF of the active cards of a batch or of all, narrowed to a zone and the unprinted
    ones, as ``lianka cards print --out`` writes it; each card's print count goes up by one."""
    require_active_admin(actor)
    selection = await select_cards_for_print(
        session,
        everything=batch_id is None,
        batch_id=batch_id,
        zone=which.zone,
        unprinted=which.unprinted,
    )
    if not selection.cards:
        raise InvalidInput("没有可打印的联系卡。")
    faces = card_faces(
        selection,
        config.organisation,
        lambda token: printed_card_link(token, bot_username=bot_username, public_url=public_url),
    )
    try:
        font = find_cjk_font()
    except CjkFontMissing as error:
        raise DomainError("服务器未安装中文字体，暂时无法生成打印文件，请联系技术人员。") from error
    pdf = await asyncio.to_thread(render_pdf, faces, font=font)
    await mark_printed(session, [item.card.id for item in selection.cards if item.card.id])
    logger.info("%s cards printed by inspector %s in the console", len(faces), actor.id)
    return PrintedCards(pdf, len(faces), -(-len(faces) // PER_PAGE), selection.skipped_revoked)
