"""The web report's use cases: the report being entered on the card's web page, kept on the
server between pages (``WebDraft``, keyed by the hash of the browser's session id), submitted
through ``submit_case`` like the chat's; and the purge of what has expired.

The rules of a report are ``IntakeDraft``'s; the order of the pages is the web layer's (it
names the step a draft is at). A form that no longer matches its draft (another draft, one
already submitted, an expired one) is ``StaleForm``: never a second case."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.intake import Counter, Submitted, submit_case, submitted_before
from bot.services.policy import Policy
from bot.services.rate_limits import Limit, RateLimiter, purge_rate_counters
from bot.services.reporters import (
    WEB_CARD,
    AttemptGuard,
    UnknownCard,
    admit_web_client,
    card_zone_id,
    counting_unknown_cards,
    get_open_card,
    list_categories,
)
from models.card import Card
from models.enterprise import Enterprise
from models.errors import DomainError
from models.intake import IntakeDraft
from models.org import Category, Zone
from models.reporter import Reporter, web_reporter
from models.web_draft import WEB_DRAFT_LIFETIME, WebDraft

FORMS_PER_ADDRESS = Limit("web-form", 30, timedelta(minutes=1))
"""Forms one client address may send a minute (every step of the web report counts)."""
NEW_SESSIONS_PER_ADDRESS = Limit("web-new-session", 30, timedelta(minutes=1))
"""Report pages one client address may open a minute without a session (each may start a
draft row: a flood of cookie-less visits must not fill the table)."""
REPORTS_PER_CARD = Limit("web-report-card", 10, timedelta(hours=1))
"""Reports one card may bring in an hour on the web (a card is one enterprise's)."""
SUBMITTED = "submitted"


class StaleForm(DomainError):
    message = "此页面已过期，请重新打开反映页面。"


@dataclass(frozen=True, slots=True)
class WebReport:
    """A web report in progress: the card it is made through, the draft and its step, and the
    categories to choose from."""

    token: str
    issuing_unit: str
    enterprise: str | None
    draft: IntakeDraft
    step: str
    categories: tuple[Category, ...]


async def _issuer(session: AsyncSession, card: Card) -> tuple[str, str | None]:
    enterprise = await session.get(Enterprise, card.enterprise_id)
    zone_id = card_zone_id(card, enterprise)
    zone = await session.get(Zone, zone_id) if zone_id else None
    unit = zone.issuing_unit if zone is not None else card.issuing_unit
    return unit, enterprise.name if enterprise else None


async def _report(session: AsyncSession, card: Card, row: WebDraft) -> WebReport:
    unit, enterprise = await _issuer(session, card)
    return WebReport(
        token=card.token,
        issuing_unit=unit,
        enterprise=enterprise,
        draft=IntakeDraft.from_data(row.data),
        step=row.step,
        categories=tuple(await list_categories(session)),
    )


async def open_web_report(
    session: AsyncSession,
    guard: AttemptGuard,
    *,
    limiter: RateLimiter,
    config: LiankaConfig,
    token: str,
    session_key: str,
    client: str,
    first_step: str,
    now: datetime,
) -> WebReport:
    """The report page of a card: this browser's draft through the card, or a new one (at
    ``first_step``) when it has none, one through another card, one already submitted or one
    expired. Unknown and revoked cards are refused with the bot's words; guessed tokens from
    one address are stopped, as on the landing page."""
    admit_web_client(guard, client=client, now=now)
    try:
        async with counting_unknown_cards(limiter, client=client, now=now):
            card = await get_open_card(session, config=config, token=token)
    except UnknownCard:
        guard.fail(WEB_CARD, client, now)
        raise
    assert card.id is not None
    row = await session.get(WebDraft, session_key)
    if (
        row is None
        or row.card_id != card.id
        or row.reporter_id is not None
        or (row.expires_at <= now)
    ):
        draft = IntakeDraft(draft_id=secrets.token_hex(8))
        if row is not None:
            await session.delete(row)
            await session.flush()
        row = WebDraft(
            session_key=session_key,
            card_id=card.id,
            draft_id=draft.draft_id,
            step=first_step,
            data=draft.to_data(),
            created_at=now,
            updated_at=now,
            expires_at=now + WEB_DRAFT_LIFETIME,
        )
        session.add(row)
        await session.flush()
    report = await _report(session, card, row)
    await session.commit()
    return report


async def get_web_report(
    session: AsyncSession,
    *,
    config: LiankaConfig,
    token: str,
    session_key: str,
    draft_id: str,
    now: datetime,
) -> WebReport:
    """The draft a form was sent for: this browser's, through this card, not yet submitted nor
    expired, else ``StaleForm``; a card revoked meanwhile is refused with the bot's words. The
    token is compared with the draft's card, never looked up on its own (no oracle for guesses)."""
    row = await session.get(WebDraft, session_key)
    if row is None or row.draft_id != draft_id or row.reporter_id is not None:
        raise StaleForm(detail="no such web draft")
    if row.expires_at <= now:
        raise StaleForm(detail="expired web draft")
    card = await session.get(Card, row.card_id)
    if card is None or not secrets.compare_digest(card.token, token):
        raise StaleForm(detail="web draft of another card")
    await get_open_card(session, config=config, token=card.token)
    return await _report(session, card, row)


async def save_web_step(
    session: AsyncSession,
    *,
    session_key: str,
    draft: IntakeDraft,
    step: str,
    now: datetime,
) -> None:
    """A step entered: the draft and the step it is at now, for another seven days; a draft
    submitted, replaced or expired meanwhile is not touched (``StaleForm``)."""
    result = await session.exec(
        update(WebDraft)
        .where(
            col(WebDraft.session_key) == session_key,
            col(WebDraft.draft_id) == draft.draft_id,
            col(WebDraft.reporter_id).is_(None),
            col(WebDraft.expires_at) > now,
        )
        .values(
            data=draft.to_data(), step=step, updated_at=now, expires_at=now + WEB_DRAFT_LIFETIME
        )
    )
    if not result.rowcount:
        await session.rollback()
        raise StaleForm(detail="web draft changed meanwhile")
    await session.commit()


async def submit_web_report(
    session: AsyncSession,
    *,
    policy: Policy,
    token: str,
    session_key: str,
    draft_id: str,
    now: datetime,
    counted: Counter | None = None,
) -> Submitted:
    """确认提交 on the web: the card opened again (revoked → refused), a web reporter made from
    it, and ``submit_case`` as in the chat, with the draft's id: in one transaction with the
    draft marked submitted and its data dropped. The same form sent again (twice at once, or
    later) gets the first case back (``duplicate``, no receipt code); another draft's form,
    ``StaleForm``."""
    row = await session.get(WebDraft, session_key)
    if row is None or row.draft_id != draft_id:
        raise StaleForm(detail="no such web draft")
    card = await get_open_card(session, config=policy.config, token=token)
    if card.id != row.card_id:
        raise StaleForm(detail="web draft of another card")
    if row.reporter_id is not None:
        return await _submitted_already(session, row.reporter_id, draft_id, now)
    if row.expires_at <= now:
        raise StaleForm(detail="expired web draft")
    ready = IntakeDraft.from_data(row.data).ready()
    enterprise = await session.get(Enterprise, card.enterprise_id)
    assert card.id is not None
    reporter = web_reporter(
        card_id=card.id,
        enterprise_id=card.enterprise_id,
        zone_id=card_zone_id(card, enterprise),
        now=now,
    )
    session.add(reporter)
    await session.flush()
    claimed = await session.exec(
        update(WebDraft)
        .where(
            col(WebDraft.session_key) == session_key,
            col(WebDraft.draft_id) == draft_id,
            col(WebDraft.reporter_id).is_(None),
        )
        .values(
            reporter_id=reporter.id,
            step=SUBMITTED,
            data={},
            updated_at=now,
            expires_at=now + WEB_DRAFT_LIFETIME,
        )
    )
    if not claimed.rowcount:  # the same form, sent twice at once: the other one submitted it
        await session.rollback()
        again = await session.get(WebDraft, session_key, populate_existing=True)
        if again is None or again.draft_id != draft_id or again.reporter_id is None:
            raise StaleForm(detail="web draft changed meanwhile")
        return await _submitted_already(session, again.reporter_id, draft_id, now)
    return await submit_case(
        session, reporter, ready, policy=policy, now=now, draft_id=draft_id, counted=counted
    )


async def _submitted_already(
    session: AsyncSession, reporter_id: int, draft_id: str, now: datetime
) -> Submitted:
    reporter = await session.get(Reporter, reporter_id)
    existing = await submitted_before(session, reporter, draft_id, now) if reporter else None
    if existing is None:
        raise StaleForm(detail="submitted web draft without its case")
    return existing


async def purge_expired_web_drafts(sessions: SessionFactory, now: datetime) -> int:
    """Hourly: delete the web drafts untouched for ``WEB_DRAFT_DAYS`` (what was entered goes
    with them) and the rate counters of windows that have passed; returns how many drafts."""
    async with sessions() as session:
        result = await session.exec(delete(WebDraft).where(col(WebDraft.expires_at) <= now))
        await session.commit()
    await purge_rate_counters(sessions, now)
    return int(result.rowcount or 0)
