"""The reporter's identity: opening a card (with the guard against guessing tokens and receipt
codes), the greeting, the account behind a chat, and the categories they may report in."""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LiankaConfig
from bot.services.card_scans import ScanBuffer
from bot.services.rate_limits import Limit, RateLimiter
from models.card import Card, CardScan, CardStatus
from models.enterprise import Enterprise
from models.errors import DomainError, NotFound
from models.notification import Channel
from models.org import Category, Zone
from models.reporter import Reporter, ReporterContact, phone_index
from notifications.render import render

logger = logging.getLogger(__name__)

_CARD_TOKEN = re.compile(r"c_[A-Za-z0-9_-]{16,62}")


def is_card_payload(payload: str) -> bool:
    """A start parameter that looks like a card token: ``c_`` and 16+ URL-safe characters."""
    return _CARD_TOKEN.fullmatch(payload) is not None


class CardRefused(DomainError):
    """An unknown or revoked card; the message gives the commission's hotline and 12388."""


class UnknownCard(CardRefused):
    """No card has this token (perhaps a guess)."""


class TooManyAttempts(DomainError):
    message = "尝试次数过多，请稍后再试。"


class NoCard(DomainError):
    """The account never opened a card, so there is no enterprise to report for."""


class Verdict(enum.Enum):
    ALLOW = "allow"
    WARN = "warn"  # the first refused attempt: say "请稍后再试" once
    SILENT = "silent"  # later ones: no answer at all


Who = int | str
"""Whose failures a guard counts: a Telegram account's id, or a web client's address."""
WEB_CARD = "web-card"
"""The guard's kind for card tokens tried on the web (the landing and report pages)."""
UNKNOWN_CARDS_LIMIT = Limit("web-unknown-card", 5, timedelta(minutes=10))
"""Unknown card tokens from one web client address, counted by all instances together (the
in-process guard's count, shared)."""


@dataclass
class AttemptGuard:
    """Failures per account or client address (unknown card tokens, wrong receipt codes): after ``limit`` failures
    within ``window`` every attempt of that kind is refused, the first time with a message, then
    silently, until the oldest failure leaves the window. In-process: a restart forgets."""

    limit: int = 5
    window: timedelta = timedelta(minutes=10)
    _failures: dict[tuple[str, Who], list[datetime]] = field(default_factory=dict)
    _warned: set[tuple[str, Who]] = field(default_factory=set)

    def _recent(self, key: tuple[str, Who], now: datetime) -> list[datetime]:
        recent = [at for at in self._failures.get(key, []) if now - at < self.window]
        if recent:
            self._failures[key] = recent
        else:
            self._failures.pop(key, None)
            self._warned.discard(key)
        return recent

    def verdict(self, kind: str, user_id: Who, now: datetime) -> Verdict:
        key = (kind, user_id)
        if len(self._recent(key, now)) < self.limit:
            return Verdict.ALLOW
        if key in self._warned:
            return Verdict.SILENT
        self._warned.add(key)
        return Verdict.WARN

    def fail(self, kind: str, user_id: Who, now: datetime) -> None:
        key = (kind, user_id)
        self._failures[key] = [*self._recent(key, now), now]
        if len(self._failures) > 10_000:
            for other in list(self._failures):
                self._recent(other, now)


@dataclass(frozen=True, slots=True)
class Welcome:
    """What the greeting shows: who issued the card, for which enterprise."""

    issuing_unit: str
    enterprise: str | None


def _refusal(config: LiankaConfig, reason: str) -> str:
    organisation = config.organisation
    return render(
        "reporter_card_refused",
        reason=reason,
        organisation=organisation.name,
        hotline=organisation.hotline,
        national_hotline=organisation.national_hotline,
    )


async def get_reporter(session: AsyncSession, telegram_user_id: int) -> Reporter | None:
    return (
        await session.exec(select(Reporter).where(Reporter.telegram_user_id == telegram_user_id))
    ).first()


async def require_reporter(
    session: AsyncSession, config: LiankaConfig, telegram_user_id: int
) -> Reporter:
    """The reporter behind this account, or the request to scan a card first; a card revoked
    since it was scanned (lost, reissued) no longer lets anyone report for its enterprise."""
    row = (
        await session.exec(
            select(Reporter, Card.status)
            .outerjoin(Card, col(Card.id) == col(Reporter.card_id))
            .where(Reporter.telegram_user_id == telegram_user_id)
        )
    ).first()  # the reporter and their card's status in one statement
    if row is None:
        raise NoCard(_refusal(config, "no_card"))
    reporter, status = row
    if reporter.card_id is not None and status is not CardStatus.ACTIVE:
        raise CardRefused(_refusal(config, "revoked"))
    return reporter


async def list_categories(session: AsyncSession) -> list[Category]:
    """The active categories in the configuration's order."""
    return list(
        (
            await session.exec(
                select(Category)
                .where(col(Category.active).is_(True))
                .order_by(col(Category.sort_order), col(Category.id))
            )
        ).all()
    )


async def get_active_category(session: AsyncSession, category_id: int) -> Category:
    category = await session.get(Category, category_id)
    if category is None or not category.active:
        raise NotFound("该问题类别已停用，请重新选择。")
    return category


async def _welcome(session: AsyncSession, reporter: Reporter, config: LiankaConfig) -> Welcome:
    return await _welcome_for(
        session,
        config,
        card_id=reporter.card_id,
        zone_id=reporter.zone_id,
        enterprise_id=reporter.enterprise_id,
    )


async def _welcome_for(
    session: AsyncSession,
    config: LiankaConfig,
    *,
    card_id: int | None,
    zone_id: int | None,
    enterprise_id: int | None,
) -> Welcome:
    """The zone's issuing unit, else the card's, else the commission's; and the enterprise."""
    card = await session.get(Card, card_id) if card_id else None
    zone = await session.get(Zone, zone_id) if zone_id else None
    enterprise = await session.get(Enterprise, enterprise_id) if enterprise_id else None
    if zone is not None:
        unit = zone.issuing_unit
    elif card is not None:
        unit = card.issuing_unit
    else:
        unit = config.organisation.name
    return Welcome(unit, enterprise.name if enterprise else None)


async def get_open_card(session: AsyncSession, *, config: LiankaConfig, token: str) -> Card:
    """The card behind a token, if a report can be made through it: an unknown or revoked card
    is refused with the hotline (the caller's guard counts the unknown ones)."""
    return (await _open_card(session, config=config, token=token))[0]


async def _open_card(
    session: AsyncSession, *, config: LiankaConfig, token: str
) -> tuple[Card, Enterprise | None, Zone | None]:
    """``get_open_card``, with the card's enterprise and zone read in the same statement (kept
    by the caller, they are in the session when the scan and the greeting look them up)."""
    row = None
    if is_card_payload(token):
        zone_id = func.coalesce(col(Card.zone_id), col(Enterprise.zone_id))
        row = (
            await session.exec(
                select(Card, Enterprise, Zone)
                .outerjoin(Enterprise, col(Enterprise.id) == col(Card.enterprise_id))
                .outerjoin(Zone, col(Zone.id) == zone_id)
                .where(Card.token == token)
            )
        ).first()
    if row is None:
        raise UnknownCard(_refusal(config, "unknown"), detail="unknown card token")
    card, enterprise, zone = row
    if card.status is CardStatus.REVOKED:
        raise CardRefused(_refusal(config, "revoked"), detail=f"revoked card {card.id}")
    return card, enterprise, zone


def card_zone_id(card: Card, enterprise: Enterprise | None) -> int | None:
    """The zone a report through a card belongs to: the card's, else its enterprise's."""
    return card.zone_id or (enterprise.zone_id if enterprise else None)


@dataclass(frozen=True, slots=True)
class _Scan:
    card: Card
    enterprise: Enterprise | None
    zone_id: int | None
    zone: Zone | None = None  # held, so the greeting finds it in the session


async def _scan_card(
    session: AsyncSession,
    guard: AttemptGuard,
    *,
    config: LiankaConfig,
    token: str,
    kind: str,
    who: Who,
    now: datetime,
) -> _Scan | None:
    """The rules every channel applies to a scan: the guard against guessing (None once it has
    warned) and the refusal of unknown and revoked cards. The caller counts the scan."""
    verdict = guard.verdict(kind, who, now)
    if verdict is Verdict.SILENT:
        return None
    if verdict is Verdict.WARN:
        raise TooManyAttempts
    try:
        card, enterprise, zone = await _open_card(session, config=config, token=token)
    except UnknownCard:
        guard.fail(kind, who, now)
        raise
    assert card.id is not None
    return _Scan(card, enterprise, card_zone_id(card, enterprise), zone)


async def open_card(
    session: AsyncSession,
    guard: AttemptGuard,
    *,
    config: LiankaConfig,
    token: str,
    telegram_user_id: int,
    chat_id: int,
    now: datetime,
) -> Welcome | None:
    """A scan of a card: counted on the card and as a ``CardScan``, and the account bound to the
    card's enterprise and zone. Unknown and revoked cards are refused with the hotline; repeated
    unknown tokens from one account are refused, once with "请稍后再试", then silently (None)."""
    scan = await _scan_card(
        session, guard, config=config, token=token, kind="card", who=telegram_user_id, now=now
    )
    if scan is None:
        return None
    card = scan.card
    await session.exec(
        update(Card)
        .where(col(Card.id) == card.id)
        .values(scan_count=col(Card.scan_count) + 1, last_scan_at=now)
    )
    reporter_id = await _bind_reporter(
        session,
        telegram_user_id=telegram_user_id,
        chat_id=chat_id,
        card=card,
        zone_id=scan.zone_id,
        now=now,
    )
    assert card.id is not None
    await session.exec(
        insert(CardScan).values(card_id=card.id, reporter_id=reporter_id, scanned_at=now)
    )
    welcome = await _welcome_for(
        session, config, card_id=card.id, zone_id=scan.zone_id, enterprise_id=card.enterprise_id
    )
    await session.commit()
    return welcome


async def _bind_reporter(
    session: AsyncSession,
    *,
    telegram_user_id: int,
    chat_id: int,
    card: Card,
    zone_id: int | None,
    now: datetime,
) -> int:
    """The account's reporter, made or found, bound to the card's enterprise and zone and its
    chat, in one statement (an upsert on the account); its id. Who it was made for, when, and
    any block stay as they were."""
    table = Reporter.__table__  # type: ignore[attr-defined]
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert_into = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    bound = {
        "chat_id": chat_id,
        "card_id": card.id,
        "enterprise_id": card.enterprise_id,
        "zone_id": zone_id,
        "last_seen_at": now,
    }
    statement = (
        insert_into.values(
            channel=Channel.TELEGRAM, telegram_user_id=telegram_user_id, created_at=now, **bound
        )
        .on_conflict_do_update(index_elements=["telegram_user_id"], set_=bound)
        .returning(table.c.id)
    )
    return int((await session.exec(statement)).scalar_one())


@dataclass(frozen=True, slots=True)
class CardLanding:
    """What a card's web landing page shows: who issued it, for which enterprise, and the token
    for the page's links (the web report, the Telegram deep link); ``card_id`` counts its scans."""

    card_id: int
    token: str
    issuing_unit: str
    enterprise: str | None


def admit_web_client(guard: AttemptGuard, *, client: str, now: datetime) -> None:
    """A client address that tried too many unknown card tokens is refused with "请稍后再试"
    whatever card it opens, known ones too (a page cannot stay silent as the chat does)."""
    if guard.verdict(WEB_CARD, client, now) is not Verdict.ALLOW:
        raise TooManyAttempts


@asynccontextmanager
async def counting_unknown_cards(
    limiter: RateLimiter,
    *,
    client: str,
    now: datetime,
    session: AsyncSession | None = None,
) -> AsyncIterator[None]:
    """Around a card looked up for a web page: refused (请稍后再试) once the address has tried
    ``UNKNOWN_CARDS_LIMIT`` unknown tokens on any instance, and an unknown token counted. Enter
    it before ``session`` has read anything: an unknown token ends ``session``'s transaction,
    its connection back in the pool, before the count takes one (a flood of unknown tokens,
    each holding one and waiting for another, would empty the pool)."""
    if await limiter.remaining(UNKNOWN_CARDS_LIMIT, client, now) <= 0:
        raise TooManyAttempts
    try:
        yield
    except UnknownCard:
        if session is not None:
            await session.rollback()  # it only read: the card was not found
        await limiter.hit(UNKNOWN_CARDS_LIMIT, client, now)
        raise


async def scan_card_on_web(
    session: AsyncSession,
    guard: AttemptGuard,
    scans: ScanBuffer,
    *,
    limiter: RateLimiter,
    config: LiankaConfig,
    token: str,
    client: str,
    now: datetime,
) -> CardLanding:
    """A card's link opened in a browser: counted as the bot counts a scan (the card's counter
    and a ``CardScan`` with no reporter: the web has no account until a report is made), written
    behind by ``scans`` within a second; unknown and revoked cards refused with the same words as
    in the chat; repeated unknown tokens from one client address refused with "请稍后再试".
    Reads only: the scan is written by ``scans``, so a crash loses at most the last second's.
    Unknown tokens are counted in ``guard`` (this process, checked first on every page, also for
    a card's page kept in memory) and in ``limiter`` (shared by every instance: guessing spread
    over instances behind a proxy is stopped at the same count)."""
    async with counting_unknown_cards(limiter, client=client, now=now, session=session):
        scan = await _scan_card(
            session, guard, config=config, token=token, kind=WEB_CARD, who=client, now=now
        )
    if scan is None:
        raise TooManyAttempts
    card_id = scan.card.id
    assert card_id is not None
    welcome = await _welcome_for(
        session,
        config,
        card_id=card_id,
        zone_id=scan.zone_id,
        enterprise_id=scan.card.enterprise_id,
    )
    scans.record(card_id, now)
    return CardLanding(card_id, scan.card.token, welcome.issuing_unit, welcome.enterprise)


async def greet_reporter(
    session: AsyncSession,
    config: LiankaConfig,
    *,
    telegram_user_id: int,
    chat_id: int,
    now: datetime,
) -> Welcome | None:
    """A /start without a card: a known reporter is greeted with their card's unit; a stranger is
    taken in without a card only where the config allows it; otherwise None (scan a card)."""
    reporter = await get_reporter(session, telegram_user_id)
    if reporter is None:
        if not config.organisation.allow_start_without_card:
            return None
        reporter = Reporter(telegram_user_id=telegram_user_id, chat_id=chat_id, created_at=now)
    reporter.chat_id = chat_id
    reporter.last_seen_at = now
    session.add(reporter)
    await session.flush()
    welcome = await _welcome(session, reporter, config)
    await session.commit()
    return welcome


async def cases_by_phone(session: AsyncSession, phone: str) -> list[int]:
    """The named cases whose reporter gave this phone number (as typed: spaces, dashes), found
    through the keyed blind index — there is no plain phone column to search. The caller
    decides who may ask (a contact is shown only where the rules allow)."""
    rows = await session.exec(
        select(ReporterContact.case_id)
        .where(ReporterContact.phone_index == phone_index(phone))
        .order_by(col(ReporterContact.case_id))
    )
    return list(rows.all())
