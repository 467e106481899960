"""The web report's use cases: the report being entered on the card's web page, kept on the
server between pages (``WebDraft``, keyed by the hash of the browser's session id), submitted
through ``submit_case`` like the chat's; and the purge of what has expired.

The rules of a report are ``IntakeDraft``'s; the order of the pages is the web layer's (it
names the step a draft is at). A form that no longer matches its draft (another draft, one
already submitted, an expired one) is ``StaleForm``: never a second case. A form's token is
compared with its draft's card, never looked up on its own: a form is no way to try tokens.

确认提交 (``confirm_web_report``) counts the card's reports (``REPORTS_PER_CARD``) only for a
draft that will become a case, once: the draft is first claimed (its step ``CONFIRMING``, a
conditional update), then counted in the shared limits, then submitted; a draft submitted
before gives its case back uncounted. No database connection is held while the limits count."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, update
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.calendar import load_calendar
from bot.services.intake import Counter, Submitted, submit_case
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
from bot.services.web_receipts import (
    SUBMITTED,
    forget_kept_receipts,
    keep_receipt,
    submitted_again,
)
from models.card import Card
from models.enterprise import Enterprise
from models.errors import DomainError
from models.intake import IntakeDraft
from models.org import Category, Zone
from models.reporter import web_reporter
from models.web_draft import WEB_DRAFT_LIFETIME, WebDraft

FORMS_PER_ADDRESS = Limit("web-form", 30, timedelta(minutes=1))
"""Forms one client address may send a minute (every step of the web report counts)."""
NEW_SESSIONS_PER_ADDRESS = Limit("web-new-session", 30, timedelta(minutes=1))
"""Report pages one client address may open a minute without a session (each may start a
draft row: a flood of cookie-less visits must not fill the table)."""
REPORTS_PER_CARD = Limit("web-report-card", 10, timedelta(hours=1))
"""Reports one card may bring in an hour on the web (a card is one enterprise's): counted once
per draft that becomes a case, before the case is made."""
CONFIRMING = "confirming"
"""The step of a draft whose 确认提交 is under way: one request holds it (counts it against the
card, then submits it); the draft cannot be changed meanwhile, and a second 确认提交 waits for
the first one's case."""
CLAIM_LEASE = timedelta(minutes=1)
"""How long a 确认提交 under way holds its draft: past it (its process stopped half-way), the
next 确认提交 takes the draft over."""
CLAIM_WAIT_SECONDS = 5.0
"""How long a second 确认提交 waits for the first one's case before saying it is under way."""


class StaleForm(DomainError):
    message = "此页面已过期，请重新打开反映页面。"


class TooManyReports(DomainError):
    message = "通过此联系卡提交的反映过于频繁，请稍后再试，或拨打下方电话反映。您填写的内容已保留。"


class SubmissionUnderWay(DomainError):
    message = "您的反映正在提交，请稍候再点“确认提交”查看结果。您填写的内容已保留。"


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


@dataclass(frozen=True, slots=True)
class DraftElsewhere:
    """A card's report page opened while this browser's report through another card is being
    entered: that report is kept as it is (a page opened, perhaps from another site's link,
    never loses what was typed); the page offers to go on with it or to give it up."""

    issuing_unit: str
    enterprise: str | None
    draft_id: str
    draft_token: str
    """The token of the card the report in progress is made through (its page's address)."""


@dataclass(frozen=True, slots=True)
class WebSubmitted:
    """确认提交's answer: the case (the first one again for a form sent twice) and the unit
    that issued the card (the page's heading)."""

    submitted: Submitted
    issuing_unit: str


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
) -> WebReport | DraftElsewhere:
    """The report page of a card: this browser's draft through the card, or a new one (at
    ``first_step``) when it has none, or one already submitted or expired. A draft being entered
    through another card is never replaced here (``DraftElsewhere``): only a form gives it up
    (``abandon_web_draft``). Unknown and revoked cards are refused with the bot's words; guessed
    tokens from one address are stopped, as on the landing page."""
    admit_web_client(guard, client=client, now=now)
    try:
        async with counting_unknown_cards(limiter, client=client, now=now, session=session):
            card = await get_open_card(session, config=config, token=token)
    except UnknownCard:
        guard.fail(WEB_CARD, client, now)
        raise
    assert card.id is not None
    row = await session.get(WebDraft, session_key)
    if row is not None and _in_progress(row, now) and row.card_id != card.id:
        elsewhere = await _elsewhere(session, card, row)
        await session.rollback()
        return elsewhere
    if row is None or not _in_progress(row, now):
        draft = IntakeDraft(draft_id=secrets.token_hex(8))
        if row is not None:  # submitted or expired: nothing of it is left to lose
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


def _in_progress(row: WebDraft, now: datetime) -> bool:
    """A draft still being entered: neither submitted nor expired."""
    return row.reporter_id is None and row.expires_at > now


async def _elsewhere(session: AsyncSession, card: Card, row: WebDraft) -> DraftElsewhere:
    unit, enterprise = await _issuer(session, card)
    other = await session.get(Card, row.card_id)
    assert other is not None  # a draft's card is never deleted (foreign key)
    return DraftElsewhere(unit, enterprise, row.draft_id, other.token)


def _lapsed(now: datetime) -> Any:
    """A draft whose 确认提交 stopped half-way (held past its lease)."""
    return and_(col(WebDraft.step) == CONFIRMING, col(WebDraft.updated_at) <= now - CLAIM_LEASE)


def _not_held(now: datetime) -> Any:
    """A draft no 确认提交 is under way on (or one whose 确认提交 stopped past its lease)."""
    return or_(col(WebDraft.step) != CONFIRMING, _lapsed(now))


async def abandon_web_draft(
    session: AsyncSession, *, session_key: str, draft_id: str, now: datetime
) -> bool:
    """放弃并重新开始: this browser's report in progress (the one the page offered) deleted with
    what was entered; one submitted, replaced or being submitted meanwhile is kept. Whether it
    was deleted."""
    result = await session.exec(
        delete(WebDraft).where(
            col(WebDraft.session_key) == session_key,
            col(WebDraft.draft_id) == draft_id,
            col(WebDraft.reporter_id).is_(None),
            _not_held(now),
        )
    )
    await session.commit()
    return bool(result.rowcount)


async def _form_draft(
    session: AsyncSession, *, session_key: str, draft_id: str, config: LiankaConfig, token: str
) -> tuple[WebDraft, Card]:
    """This browser's draft with the form's id, and its card if the form's token is the card's
    (``_card_of``); else ``StaleForm``. Submitted or expired: the caller's to say."""
    row = await session.get(WebDraft, session_key)
    if row is None or row.draft_id != draft_id:
        raise StaleForm(detail="no such web draft")
    return row, await _card_of(session, row, config=config, token=token)


async def _card_of(
    session: AsyncSession, row: WebDraft, *, config: LiankaConfig, token: str
) -> Card:
    """The card of a form's draft, if the form's token is that card's (compared, never looked
    up: the same ``StaleForm`` whatever card the token is, or none); revoked, refused."""
    card = await session.get(Card, row.card_id)
    if card is None or not secrets.compare_digest(
        card.token.encode("utf-8"), token.encode("utf-8")
    ):
        raise StaleForm(detail="web draft of another card")
    return await get_open_card(session, config=config, token=card.token)


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
    card = await _card_of(session, row, config=config, token=token)
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
    submitted, replaced, expired or being submitted meanwhile is not touched (``StaleForm``)."""
    result = await session.exec(
        update(WebDraft)
        .where(
            col(WebDraft.session_key) == session_key,
            col(WebDraft.draft_id) == draft.draft_id,
            col(WebDraft.reporter_id).is_(None),
            col(WebDraft.expires_at) > now,
            _not_held(now),
        )
        .values(
            data=draft.to_data(), step=step, updated_at=now, expires_at=now + WEB_DRAFT_LIFETIME
        )
    )
    if not result.rowcount:  # nothing written; the caller's objects stay as loaded (no rollback)
        now_at = await session.exec(
            select(WebDraft.step).where(
                col(WebDraft.session_key) == session_key,
                col(WebDraft.draft_id) == draft.draft_id,
                col(WebDraft.reporter_id).is_(None),
            )
        )
        if now_at.first() == CONFIRMING:
            raise SubmissionUnderWay(detail="web draft held by its submission")
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
    """A web draft submitted (``confirm_web_report`` counts it first): the card opened again
    (revoked → refused), a web reporter made from it, and ``submit_case`` as in the chat, with
    the draft's id: in one transaction with the draft marked submitted, its data dropped and the
    receipt code kept sealed in its place for a few minutes (``keep_receipt``). The same form
    sent again (twice at once, or later) gets the first case back (``duplicate``, with the same
    receipt code while it is kept, a new one after: ``_submitted_already``); another draft's
    form, or a token not its card's, ``StaleForm``."""
    row, card = await _form_draft(
        session, session_key=session_key, draft_id=draft_id, config=policy.config, token=token
    )
    if row.reporter_id is not None:
        return await _submitted_already(session, row.reporter_id, session_key, draft_id, now)
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
        return await _submitted_already(session, again.reporter_id, session_key, draft_id, now)
    submitted = await submit_case(
        session, reporter, ready, policy=policy, now=now, draft_id=draft_id, commit=False
    )
    await keep_receipt(session, session_key, draft_id, submitted.receipt_code, now)
    await session.commit()
    if counted is not None and not submitted.duplicate:
        counted.inc()
    return submitted


@dataclass(frozen=True, slots=True)
class _Confirmation:
    """One 确认提交: the form's card token, the browser's draft, the step a draft is
    confirmed from (the summary's), and when."""

    config: LiankaConfig
    token: str
    session_key: str
    draft_id: str
    at_step: str
    now: datetime


@dataclass(frozen=True, slots=True)
class _Claim:
    """What claiming a draft found: the card's unit, and either the case the draft already
    became, or whether this request now holds the draft (else another one does)."""

    issuing_unit: str
    earlier: Submitted | None = None
    held: bool = False


async def confirm_web_report(
    sessions: SessionFactory,
    limiter: RateLimiter,
    *,
    config: LiankaConfig,
    per_card: Limit,
    token: str,
    session_key: str,
    draft_id: str,
    at_step: str,
    now: datetime,
    counted: Counter | None = None,
) -> WebSubmitted:
    """确认提交 on the web, counted against the card only for a draft that becomes a case, once:
    this browser's current draft through this card, at ``at_step``, passing every rule, is
    claimed (one request at a time), then counted in ``per_card`` (``TooManyReports`` gives the
    draft back), then submitted (a submission that fails gives back the draft and the count). A
    draft submitted before gives its case back uncounted, with a new receipt code (the page that
    showed the first may never have been seen: a double tap shows the second answer); a second
    确认提交 while the first is under way waits for its case. Each step is its own short
    transaction: no connection is held while ``limiter`` counts."""
    given = _Confirmation(config, token, session_key, draft_id, at_step, now)
    claim = await _claim_or_wait(sessions, given)
    if claim.earlier is not None:
        return WebSubmitted(claim.earlier, claim.issuing_unit)
    try:
        within = await limiter.hit(per_card, token, now)
    except Exception:  # the limits out of reach: the draft is not left held for its lease
        await _release(sessions, given)
        raise
    if not within:
        await _release(sessions, given)
        raise TooManyReports(detail="reports per card")
    try:
        async with sessions() as session:
            policy = Policy(config, await load_calendar(session, config))
            submitted = await submit_web_report(
                session,
                policy=policy,
                token=token,
                session_key=session_key,
                draft_id=draft_id,
                now=now,
                counted=counted,
            )
    except Exception:  # no case: the draft back at its summary, the card's count given back
        await _release(sessions, given)
        await limiter.give_back(per_card, token, now)
        raise
    return WebSubmitted(submitted, claim.issuing_unit)


async def _claim_or_wait(sessions: SessionFactory, given: _Confirmation) -> _Claim:
    """The draft claimed for this request, or the case it already became (waiting, a few
    seconds at most, for a 确认提交 under way in another request)."""
    waited, pause = 0.0, 0.02
    while True:
        async with sessions() as session:
            claim = await _claim(session, given)
        if claim.held or claim.earlier is not None:
            return claim
        if waited >= CLAIM_WAIT_SECONDS:
            raise SubmissionUnderWay(detail="web draft held by another submission")
        await asyncio.sleep(pause)
        waited, pause = waited + pause, min(pause * 2, 0.25)


async def _claim(session: AsyncSession, given: _Confirmation) -> _Claim:
    """Checks, then claims: this browser's draft, with the form's id, through the form's card
    (compared, never looked up), open, at its summary, every rule kept, and not held by another
    request (``CONFIRMING`` within its lease). The claim is a conditional update, so of requests
    at once one holds the draft; the draft is checked again under it."""
    row, card = await _form_draft(
        session,
        session_key=given.session_key,
        draft_id=given.draft_id,
        config=given.config,
        token=given.token,
    )
    unit, _ = await _issuer(session, card)
    if row.reporter_id is not None:
        earlier = await _submitted_already(
            session, row.reporter_id, given.session_key, given.draft_id, given.now
        )
        return _Claim(unit, earlier=earlier)
    if row.expires_at <= given.now:
        raise StaleForm(detail="expired web draft")
    if row.step not in (given.at_step, CONFIRMING):
        raise StaleForm(detail="web draft not at its summary")
    claimed = await session.exec(
        update(WebDraft)
        .where(
            col(WebDraft.session_key) == given.session_key,
            col(WebDraft.draft_id) == given.draft_id,
            col(WebDraft.reporter_id).is_(None),
            col(WebDraft.expires_at) > given.now,
            or_(col(WebDraft.step) == given.at_step, _lapsed(given.now)),
        )
        .values(step=CONFIRMING, updated_at=given.now)
    )
    if claimed.rowcount:
        await session.refresh(row)
        try:
            IntakeDraft.from_data(row.data).ready()
        except DomainError:
            await session.rollback()
            raise
        await session.commit()
        return _Claim(unit, held=True)
    await session.rollback()
    again = await session.get(WebDraft, given.session_key, populate_existing=True)
    if again is None or again.draft_id != given.draft_id:
        raise StaleForm(detail="web draft changed meanwhile")
    if again.reporter_id is not None:
        earlier = await _submitted_already(
            session, again.reporter_id, given.session_key, given.draft_id, given.now
        )
        return _Claim(unit, earlier=earlier)
    if again.step not in (given.at_step, CONFIRMING):
        raise StaleForm(detail="web draft changed meanwhile")
    return _Claim(unit)  # held by another request (or given back just now): asked again


async def _release(sessions: SessionFactory, given: _Confirmation) -> None:
    """A claimed draft not submitted (refused by the limits, or its submission failed): back
    at its summary, to be confirmed again."""
    async with sessions() as session:
        await session.exec(
            update(WebDraft)
            .where(
                col(WebDraft.session_key) == given.session_key,
                col(WebDraft.draft_id) == given.draft_id,
                col(WebDraft.reporter_id).is_(None),
                col(WebDraft.step) == CONFIRMING,
            )
            .values(step=given.at_step)
        )
        await session.commit()


async def _submitted_already(
    session: AsyncSession, reporter_id: int, session_key: str, draft_id: str, now: datetime
) -> Submitted:
    """This browser's draft, submitted before (a double tap, a reload of the answer, a second
    tab): its case, with the receipt code its draft keeps, or a new one (``submitted_again``)."""
    try:
        again = await submitted_again(session, reporter_id, session_key, draft_id, now)
    except StaleDataError as error:
        raise SubmissionUnderWay(
            detail="receipt code renewed by other requests meanwhile"
        ) from error
    if again is None:
        raise StaleForm(detail="submitted web draft without its case")
    return replace(again, duplicate=True)


async def purge_expired_web_drafts(sessions: SessionFactory, now: datetime) -> int:
    """Hourly: delete the web drafts untouched for ``WEB_DRAFT_DAYS`` (what was entered goes
    with them), the receipt codes submitted drafts keep past their minutes, and the
    rate counters of windows that have passed; returns how many drafts were deleted."""
    async with sessions() as session:
        result = await session.exec(delete(WebDraft).where(col(WebDraft.expires_at) <= now))
        await forget_kept_receipts(session, now)
        await session.commit()
    await purge_rate_counters(sessions, now)
    return int(result.rowcount or 0)
