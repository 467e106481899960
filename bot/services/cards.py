"""Contact cards: issue one or a whole list, list them, revoke, reissue, choose them for printing
and count the prints. Scans are the bot's business (``/start <token>``), not this module's."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, func, or_
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LiankaConfig, Organisation
from cards.csvfile import LEGAL_REP_MAX, NAME_MAX, CsvRow, RowProblem, clean
from cards.tokens import new_card_token
from models.card import Card, CardStatus, PrintBatch
from models.enterprise import Enterprise, normalize_uscc, uscc_problem
from models.errors import DomainError, InvalidInput, NotFound
from models.org import Zone

if TYPE_CHECKING:
    from cards.layout import CardFace

IMPORT_BATCH_SIZE = 200


class CardAlreadyIssued(DomainError):
    message = "该企业已有有效的联系卡。"


class CardRevoked(DomainError):
    message = "该联系卡已作废。"


@dataclass(frozen=True, slots=True)
class IssuedCard:
    """A card just issued, with its enterprise and zone."""

    card: Card
    enterprise: Enterprise
    zone: Zone | None
    enterprise_created: bool
    line: int = 0  # the CSV line it came from, for imports


@dataclass(frozen=True, slots=True)
class AlreadyCarded:
    """A row whose enterprise already holds an active card, so none was issued."""

    line: int
    enterprise: Enterprise
    card: Card


@dataclass
class ImportReport:
    """What an import did, row by row."""

    batch_id: int | None = None
    issued: list[IssuedCard] = field(default_factory=list)
    already_carded: list[AlreadyCarded] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def enterprises_created(self) -> int:
        return sum(1 for item in self.issued if item.enterprise_created)


@dataclass(frozen=True, slots=True)
class CardListing:
    card: Card
    enterprise: str
    zone_code: str | None
    zone_name: str | None
    uscc: str | None = None


@dataclass(frozen=True, slots=True)
class Reissued:
    old: Card
    new: Card
    enterprise: Enterprise


@dataclass(frozen=True, slots=True)
class PrintableCard:
    card: Card
    enterprise: str
    issuing_unit: str


@dataclass(frozen=True, slots=True)
class PrintSelection:
    cards: list[PrintableCard]
    skipped_revoked: list[int]


def card_faces(
    selection: PrintSelection, organisation: Organisation, link: Callable[[str], str]
) -> list[CardFace]:
    """What each selected card prints: its issuing unit, enterprise, link (``link(token)``: the
    commission's page or the Telegram deep link) and the hotlines."""
    from cards.layout import CardFace  # the QR and imaging code, only when printing

    return [
        CardFace(
            item.issuing_unit,
            item.enterprise,
            link(item.card.token),
            organisation.hotline,
            organisation.national_hotline,
        )
        for item in selection.cards
    ]


class _Zones:
    """Zones by code and by Chinese name; an empty value means the config's default zone."""

    def __init__(self, zones: Iterable[Zone], default_code: str | None) -> None:
        active = [zone for zone in zones if zone.active]
        self.by_code = {zone.code: zone for zone in active}
        self.by_name: dict[str, Zone] = {}
        for zone in active:
            self.by_name.setdefault(zone.name, zone)
        self.default = self.by_code.get(default_code) if default_code else None

    def resolve(self, value: str | None) -> Zone | None:
        """The zone meant by ``value``; ``KeyError`` when no active zone has that code or name."""
        if value is None:
            return self.default
        zone = self.by_code.get(value) or self.by_name.get(value)
        if zone is None:
            raise KeyError(value)
        return zone


async def _load_zones(session: AsyncSession, config: LiankaConfig) -> _Zones:
    return _Zones((await session.exec(select(Zone))).all(), config.organisation.default_zone)


class _Issuer:
    """Finds or creates enterprises and issues cards, remembering across batches what it saw, so
    that neither the database nor the file itself yields duplicate enterprises or cards."""

    def __init__(self, zones: _Zones, issuing_unit: str, now: datetime, extra_cards: bool) -> None:
        self.zones = zones
        self.default_unit = issuing_unit
        self.now = now
        self.extra_cards = extra_cards
        self.by_uscc: dict[str, Enterprise] = {}
        self.by_name: dict[tuple[str, int | None], list[Enterprise]] = {}
        self.active_card: dict[int, Card] = {}
        self.checked_cards: set[int] = set()

    def _remember(self, enterprise: Enterprise) -> None:
        if enterprise.uscc:
            self.by_uscc[enterprise.uscc] = enterprise
        same = self.by_name.setdefault((enterprise.name, enterprise.zone_id), [])
        if all(other is not enterprise for other in same):
            same.append(enterprise)

    async def _load(self, session: AsyncSession, rows: Sequence[CsvRow]) -> None:
        usccs = {row.uscc for row in rows if row.uscc and row.uscc not in self.by_uscc}
        names = {row.name for row in rows}
        found: list[Enterprise] = []
        if usccs:
            found += (
                await session.exec(select(Enterprise).where(col(Enterprise.uscc).in_(usccs)))
            ).all()
        if names:
            found += (
                await session.exec(select(Enterprise).where(col(Enterprise.name).in_(names)))
            ).all()
        for enterprise in found:
            self._remember(enterprise)

    def _find(self, row: CsvRow, zone: Zone | None) -> Enterprise | None:
        if row.uscc and row.uscc in self.by_uscc:
            return self.by_uscc[row.uscc]
        for enterprise in self.by_name.get((row.name, zone.id if zone else None), []):
            if enterprise.uscc is None or enterprise.uscc == row.uscc:
                return enterprise
        return None

    async def _load_active_cards(self, session: AsyncSession, ids: set[int]) -> None:
        unchecked = ids - self.checked_cards
        if not unchecked:
            return
        cards = await session.exec(
            select(Card)
            .where(col(Card.enterprise_id).in_(unchecked), Card.status == CardStatus.ACTIVE)
            .order_by(col(Card.id))
        )
        for card in cards.all():
            self.active_card.setdefault(card.enterprise_id, card)
        self.checked_cards |= unchecked

    async def issue(
        self, session: AsyncSession, rows: Sequence[CsvRow], batch_id: int | None
    ) -> tuple[list[IssuedCard], list[AlreadyCarded], list[RowProblem]]:
        """Cards for ``rows`` (not committed): enterprises matched by USCC, else by exact name in
        the same zone, or created; an enterprise with an active card gets no second one."""
        problems: list[RowProblem] = []
        placed: list[tuple[CsvRow, Zone | None]] = []
        for row in rows:
            try:
                placed.append((row, self.zones.resolve(row.zone)))
            except KeyError:
                problems.append(_unknown_zone(row))
        await self._load(session, [row for row, _ in placed])
        matched: list[tuple[CsvRow, Zone | None, Enterprise, bool]] = []
        for row, zone in placed:
            enterprise = self._find(row, zone)
            created = enterprise is None
            if enterprise is None:
                enterprise = Enterprise(
                    name=row.name,
                    uscc=row.uscc,
                    zone_id=zone.id if zone else None,
                    legal_rep=row.legal_rep,
                    created_at=self.now,
                )
                session.add(enterprise)
            else:
                if enterprise.uscc is None and row.uscc:
                    enterprise.uscc = row.uscc
                if enterprise.legal_rep is None and row.legal_rep:
                    enterprise.legal_rep = row.legal_rep
            self._remember(enterprise)
            matched.append((row, zone, enterprise, created))
        await session.flush()
        await self._load_active_cards(
            session, {e.id for _, _, e, created in matched if not created and e.id is not None}
        )
        issued: list[IssuedCard] = []
        carded: list[AlreadyCarded] = []
        for row, zone, enterprise, created in matched:
            assert enterprise.id is not None
            existing = self.active_card.get(enterprise.id)
            if existing is not None and not self.extra_cards:
                carded.append(AlreadyCarded(row.line, enterprise, existing))
                continue
            card = Card.issue(
                enterprise.id,
                zone,
                token=new_card_token(),
                unit_without_zone=self.default_unit,
                at=self.now,
                batch_id=batch_id,
            )
            session.add(card)
            self.active_card.setdefault(enterprise.id, card)
            issued.append(IssuedCard(card, enterprise, zone, created, row.line))
        await session.flush()
        return issued, carded, problems


def _unknown_zone(row: CsvRow) -> RowProblem:
    return RowProblem(row.line, f"未知的园区“{row.zone}”")


async def zone_problems(
    session: AsyncSession, config: LiankaConfig, rows: Sequence[CsvRow]
) -> list[RowProblem]:
    """The rows ``import_cards`` would skip for naming an unknown zone, found without writing."""
    zones = await _load_zones(session, config)
    problems = []
    for row in rows:
        try:
            zones.resolve(row.zone)
        except KeyError:
            problems.append(_unknown_zone(row))
    return problems


def _checked_row(name: str, uscc: str | None, zone: str | None, legal_rep: str | None) -> CsvRow:
    name = clean(name) or ""
    if not name:
        raise InvalidInput("企业名称不能为空。")
    if len(name) > NAME_MAX:
        raise InvalidInput(f"企业名称不能超过{NAME_MAX}个字。")
    given = clean(uscc)
    code = normalize_uscc(given) if given else None
    if code is not None:
        problem = uscc_problem(code)
        if problem is not None:
            raise InvalidInput(problem + "。")
    rep = clean(legal_rep)
    if rep is not None and len(rep) > LEGAL_REP_MAX:
        raise InvalidInput(f"法定代表人不能超过{LEGAL_REP_MAX}个字。")
    return CsvRow(0, name, code, clean(zone), rep)


async def issue_card(
    session: AsyncSession,
    config: LiankaConfig,
    now: datetime,
    *,
    name: str,
    uscc: str | None = None,
    zone: str | None = None,
    legal_rep: str | None = None,
    extra: bool = False,
) -> IssuedCard:
    """One card for one enterprise, found by USCC or by name in its zone, or created; an
    enterprise that already holds an active card gets a second one only when ``extra`` says so."""
    row = _checked_row(name, uscc, zone, legal_rep)
    issuer = _Issuer(await _load_zones(session, config), config.organisation.name, now, extra)
    issued, carded, problems = await issuer.issue(session, [row], None)
    if problems:
        raise NotFound(f"{problems[0].message}，请使用 lianka.toml 中的园区编码或名称。")
    if carded:
        held = carded[0].card
        raise CardAlreadyIssued(
            f"“{carded[0].enterprise.name}”已有有效的联系卡（编号 {held.id}）。"
            f"遗失补发请用 lianka cards reissue {held.id}；确需增发请加 --extra。"
        )
    await session.commit()
    return issued[0]


async def import_cards(
    session: AsyncSession,
    config: LiankaConfig,
    now: datetime,
    rows: Sequence[CsvRow],
    *,
    note: str | None = None,
    extra_cards: bool = False,
    batch_size: int = IMPORT_BATCH_SIZE,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Cards for every good row of an enterprise list, as one print batch; a row naming an unknown
    zone is reported and skipped. Commits once per ``batch_size`` rows, so a large file is fast and
    an interruption keeps the batches already done (importing the file again completes it)."""
    issuer = _Issuer(await _load_zones(session, config), config.organisation.name, now, extra_cards)
    report = ImportReport()
    for start in range(0, len(rows), batch_size):
        chunk = rows[start : start + batch_size]
        if report.batch_id is None:
            batch = PrintBatch(note=note[:200] if note else None, created_at=now)
            session.add(batch)
            await session.flush()
            report.batch_id = batch.id
        issued, carded, problems = await issuer.issue(session, chunk, report.batch_id)
        report.issued += issued
        report.already_carded += carded
        report.problems += problems
        await session.commit()
        if on_progress is not None:
            on_progress(len(chunk))
    if report.batch_id is not None and not report.issued:
        empty = await session.get(PrintBatch, report.batch_id)
        if empty is not None:
            await session.delete(empty)
            await session.commit()
        report.batch_id = None
    return report


@dataclass(frozen=True, slots=True)
class CardFilter:
    """Which cards a listing shows: a zone (code or name), a status, only those never printed,
    and a search by enterprise name or 统一社会信用代码."""

    zone: str | None = None
    status: CardStatus | None = None
    unprinted: bool = False
    search: str | None = None


def _conditions(which: CardFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if which.zone is not None:
        conditions.append((col(Zone.code) == which.zone) | (col(Zone.name) == which.zone))
    if which.status is not None:
        conditions.append(col(Card.status) == which.status)
    if which.unprinted:
        conditions.append(col(Card.printed_count) == 0)
    search = clean(which.search)
    if search:
        conditions.append(
            or_(
                col(Enterprise.name).contains(search, autoescape=True),
                col(Enterprise.uscc).startswith(normalize_uscc(search), autoescape=True),
            )
        )
    return conditions


async def list_cards(
    session: AsyncSession,
    *,
    zone: str | None = None,
    status: CardStatus | None = None,
    which: CardFilter | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> list[CardListing]:
    """Cards with their enterprise and zone, oldest first, optionally of one zone or status (or
    as ``which`` chooses), optionally a page of them."""
    statement = (
        select(Card, Enterprise, Zone)
        .join(Enterprise, col(Enterprise.id) == col(Card.enterprise_id))
        .outerjoin(Zone, col(Zone.id) == col(Card.zone_id))
        .order_by(col(Card.id))
    )
    statement = statement.where(*_conditions(which or CardFilter(zone=zone, status=status)))
    if offset:
        statement = statement.offset(offset)
    if limit is not None:
        statement = statement.limit(limit)
    rows = (await session.exec(statement)).all()
    return [
        CardListing(
            card, enterprise.name, z.code if z else None, z.name if z else None, enterprise.uscc
        )
        for card, enterprise, z in rows
    ]


async def count_cards(session: AsyncSession, which: CardFilter) -> int:
    """How many cards ``which`` chooses."""
    statement = (
        select(func.count())
        .select_from(Card)
        .join(Enterprise, col(Enterprise.id) == col(Card.enterprise_id))
        .outerjoin(Zone, col(Zone.id) == col(Card.zone_id))
    )
    return int((await session.exec(statement.where(*_conditions(which)))).one())


async def _get_card(session: AsyncSession, card_id: int) -> Card:
    card = await session.get(Card, card_id)
    if card is None:
        raise NotFound(f"联系卡 {card_id} 不存在。")
    return card


async def revoke_card(session: AsyncSession, card_id: int, now: datetime) -> Card:
    """Revoke a card: its QR code stops opening the enterprise's conversation."""
    card = await _get_card(session, card_id)
    if card.status is CardStatus.REVOKED:
        raise CardRevoked(f"联系卡 {card_id} 已作废，无需重复操作。")
    card.status = CardStatus.REVOKED
    card.revoked_at = now
    await session.commit()
    return card


async def reissue_card(session: AsyncSession, card_id: int, now: datetime) -> Reissued:
    """A lost card is replaced: a new card with a new token for the same enterprise and zone,
    and the old one revoked (if it still was active) and pointed at its replacement."""
    old = await _get_card(session, card_id)
    if old.replaced_by_id is not None:
        raise CardRevoked(f"联系卡 {card_id} 已补发为联系卡 {old.replaced_by_id}。")
    enterprise = await session.get(Enterprise, old.enterprise_id)
    assert enterprise is not None
    zone = await session.get(Zone, old.zone_id) if old.zone_id is not None else None
    new = Card.issue(
        old.enterprise_id,
        zone,
        token=new_card_token(),
        unit_without_zone=old.issuing_unit,
        at=now,
    )
    session.add(new)
    await session.flush()
    if old.status is CardStatus.ACTIVE:
        old.status = CardStatus.REVOKED
        old.revoked_at = now
    old.replaced_by_id = new.id
    await session.commit()
    return Reissued(old, new, enterprise)


async def select_cards_for_print(
    session: AsyncSession,
    *,
    everything: bool = False,
    batch_id: int | None = None,
    card_ids: Sequence[int] = (),
    zone: str | None = None,
    unprinted: bool = False,
) -> PrintSelection:
    """The cards to print: all active ones, the active ones of a batch (revoked ones are left out
    and named), or the cards asked for by id, where a revoked one refuses the whole print; all
    and a batch may be narrowed to one zone and to the cards never printed."""
    statement = (
        select(Card, Enterprise, Zone)
        .join(Enterprise, col(Enterprise.id) == col(Card.enterprise_id))
        .outerjoin(Zone, col(Zone.id) == col(Card.zone_id))
        .order_by(col(Card.id))
    )
    wanted = list(dict.fromkeys(card_ids))
    if wanted:
        statement = statement.where(col(Card.id).in_(wanted))
    elif batch_id is not None:
        if await session.get(PrintBatch, batch_id) is None:
            raise NotFound(f"批次 {batch_id} 不存在。")
        statement = statement.where(Card.batch_id == batch_id)
    elif everything:
        statement = statement.where(Card.status == CardStatus.ACTIVE)
    else:
        raise InvalidInput("请指定要打印的联系卡。")
    if not wanted:
        statement = statement.where(*_conditions(CardFilter(zone=zone, unprinted=unprinted)))
    rows = (await session.exec(statement)).all()
    if wanted:
        found = {card.id for card, _, _ in rows}
        missing = [str(card_id) for card_id in wanted if card_id not in found]
        if missing:
            raise NotFound(f"联系卡 {'、'.join(missing)} 不存在。")
        revoked = [str(card.id) for card, _, _ in rows if card.status is CardStatus.REVOKED]
        if revoked:
            raise CardRevoked(
                f"联系卡 {'、'.join(revoked)} 已作废，不能打印；"
                "如需新卡请用 lianka cards reissue 补发。"
            )
        order = {card_id: index for index, card_id in enumerate(wanted)}
        rows = sorted(rows, key=lambda row: order[row[0].id or 0])
    skipped = [card.id or 0 for card, _, _ in rows if card.status is CardStatus.REVOKED]
    printable = [
        PrintableCard(card, enterprise.name, zone.issuing_unit if zone else card.issuing_unit)
        for card, enterprise, zone in rows
        if card.status is CardStatus.ACTIVE
    ]
    return PrintSelection(printable, skipped)


async def mark_printed(session: AsyncSession, card_ids: Sequence[int]) -> None:
    """Count one more print of each card (after the file was written)."""
    if not card_ids:
        return
    await session.exec(
        update(Card)
        .where(col(Card.id).in_(list(card_ids)))
        .values(printed_count=col(Card.printed_count) + 1)
    )
    await session.commit()


@dataclass(frozen=True, slots=True)
class BatchRow:
    """A print batch with its active cards, for choosing what to print."""

    id: int
    note: str | None
    created_at: datetime
    active_cards: int


async def list_print_batches(session: AsyncSession) -> list[BatchRow]:
    """Every print batch, newest first, with how many of its cards are still active."""
    counts = await session.exec(
        select(Card.batch_id, func.count())
        .where(col(Card.batch_id).is_not(None), Card.status == CardStatus.ACTIVE)
        .group_by(col(Card.batch_id))
    )
    active = {int(b): int(n) for b, n in counts.all() if b is not None}
    batches = await session.exec(select(PrintBatch).order_by(col(PrintBatch.id).desc()))
    return [
        BatchRow(b.id, b.note, b.created_at, active.get(b.id, 0))
        for b in batches.all()
        if b.id is not None
    ]
