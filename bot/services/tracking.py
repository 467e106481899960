"""跟踪 on the web: a reporter follows their case at ``/t`` with its receipt code — the public
timeline, the notices kept for their page, an inspector's question to answer, 补充材料, 撤回 and
回访 (and 防打击报复回访).

Opening a case takes the receipt code; after that the page holds the case's id (in the web
session, never in an address) and each use case here re-reads the case, its reporter and what
they may do from the database. The rules are the chat's own (``my_cases``, ``relay``,
``followup``), called with the case's reporter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from markupsafe import Markup
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import SessionFactory
from bot.services.aftercare import (
    Opened,
    aftercare_asked,
    answer_none,
    check_aftercare,
    check_text,
    report_retaliation,
)
from bot.services.clocks import get_clock
from bot.services.dispositions import clue_state, object_to_result, objectable
from bot.services.followup import (
    FollowupClosed,
    Reopened,
    check_followup,
    check_reason,
    rate_for,
    reopen_for,
)
from bot.services.intake import Counter
from bot.services.my_cases import (
    MATERIAL_CLOSED,
    WRONG_RECEIPT,
    CaseView,
    MaterialAdded,
    add_material_for,
    find_by_receipt,
    material_open,
    reporter_view,
)
from bot.services.permissions import load_case
from bot.services.policy import Policy
from bot.services.rate_limits import Limit, RateLimiter
from bot.services.relay import answer_question
from bot.services.reporters import TooManyAttempts
from bot.services.withdrawal import pending_withdrawal, withdraw_for, withdrawable
from models.case import OPEN_STATUSES, Case, Satisfaction, reporter_of
from models.clock import ClockKind, ClockStage, ClockState
from models.errors import InvalidInput, NotFound, PermissionDenied
from models.intake import MaterialDraft
from models.notification import Channel, Notification, RecipientKind
from models.relay import RelayMessage, RelayStatus
from models.reporter import Reporter
from notifications.render import page_html

NOTICES_SHOWN = 20
WRONG_CODES = 10
WRONG_CODES_WINDOW = timedelta(minutes=10)
WRONG_CODES_LIMIT = Limit("web-receipt", WRONG_CODES, WRONG_CODES_WINDOW)
"""Wrong receipt codes from one client (address or browser) before every code is refused."""


class TooManyCodes(TooManyAttempts):
    message = "回执码输入错误次数过多，为保护您的信息，请10分钟后再试。"


class NotTracked(NotFound):
    """The page's case is gone or no longer opens with a receipt code: back to ``/t``."""

    message = "未找到该问题，请重新输入回执码。"


@dataclass(frozen=True, slots=True)
class Tracked:
    """A case opened by its receipt code: what the page keeps to show it again."""

    case_id: int
    number: str


@dataclass(frozen=True, slots=True)
class PageNotice:
    at: datetime
    html: Markup


@dataclass(frozen=True, slots=True)
class OpenQuestion:
    relay_id: int
    question: str
    asked_at: datetime


@dataclass(frozen=True, slots=True)
class TrackedCase:
    """The tracking page: the case as its reporter sees it, the notices kept for this page
    (newest first), the questions waiting for an answer, and what may be done now."""

    view: CaseView
    notices: tuple[PageNotice, ...]
    questions: tuple[OpenQuestion, ...]
    may_withdraw: bool
    followup_asked: bool
    may_add_material: bool = False
    may_object: bool = False  # a 实名 clue's result: one 异议
    objected: bool = False
    aftercare_asked: bool = False  # 防打击报复回访: 没有 · 有, once
    withdrawal_asked_at: datetime | None = None  # a clue's 撤回 waiting for the team leader


async def open_tracked_case(
    sessions: SessionFactory,
    limiter: RateLimiter,
    *,
    code: str,
    clients: tuple[str, ...],
    now: datetime,
) -> Tracked:
    """A receipt code typed on ``/t`` opens its case. Every code is counted against each of
    ``clients`` (the address, the browser) before it is looked up, in the limits several
    instances share, and a right one is given back: after ``WRONG_CODES`` wrong ones within
    ``WRONG_CODES_WINDOW`` every code from them is refused until the window ends, however many
    are sent at once. No count is made while the lookup holds a connection."""
    counted = [await limiter.hit(WRONG_CODES_LIMIT, who, now) for who in clients]
    if not all(counted):
        raise TooManyCodes
    async with sessions() as session:
        case = await find_by_receipt(session, code)
    if case is None:
        raise NotFound(WRONG_RECEIPT)
    for who in clients:
        await limiter.give_back(WRONG_CODES_LIMIT, who, now)
    assert case.id is not None
    return Tracked(case.id, case.number)


async def _tracked(session: AsyncSession, case_id: int) -> tuple[Reporter, Case]:
    """The case the page holds and its reporter, as the database has them now; a case that no
    longer has a receipt code (or never had) is not shown."""
    try:
        case = await load_case(session, case_id)
    except NotFound as error:
        raise NotTracked(detail=f"case {case_id} not found") from error
    reporter_id = reporter_of(case)
    reporter = await session.get(Reporter, reporter_id) if reporter_id else None
    if case.receipt_hash is None or reporter is None:
        raise NotTracked(detail=f"case {case_id} has no receipt code or reporter")
    return reporter, case


async def _page_notices(
    session: AsyncSession, case: Case, reporter: Reporter
) -> tuple[PageNotice, ...]:
    rows = (
        await session.exec(
            select(Notification)
            .where(
                Notification.case_id == case.id,
                Notification.channel == Channel.WEB,
                Notification.recipient_kind == RecipientKind.REPORTER,
                Notification.recipient_id == reporter.id,
            )
            .order_by(col(Notification.created_at).desc(), col(Notification.id).desc())
            .limit(NOTICES_SHOWN)
        )
    ).all()
    return tuple(PageNotice(row.created_at, page_html(row)) for row in rows)


async def _open_questions(session: AsyncSession, case: Case) -> tuple[OpenQuestion, ...]:
    if case.status not in OPEN_STATUSES:
        return ()
    relays = (
        await session.exec(
            select(RelayMessage)
            .where(RelayMessage.case_id == case.id, RelayMessage.status == RelayStatus.OPEN)
            .order_by(col(RelayMessage.asked_at), col(RelayMessage.id))
        )
    ).all()
    return tuple(OpenQuestion(r.id, r.question, r.asked_at) for r in relays if r.id is not None)


async def _followup_asked(session: AsyncSession, case: Case, reporter: Reporter) -> bool:
    """回访 is open: the case is resolved and the sweep has asked its reporter since (the 回访
    clock has moved past its first step and runs). Read from the clock, not the outbox: the
    question to an anonymous case's reporter carries no case."""
    assert case.id is not None
    try:
        check_followup(reporter, case, case.id)
    except (PermissionDenied, FollowupClosed):
        return False
    clock = await get_clock(session, case.id, ClockKind.FOLLOWUP)
    return (
        clock is not None and clock.state is ClockState.RUNNING and clock.stage >= ClockStage.WARNED
    )


async def tracked_case(
    session: AsyncSession, case_id: int, *, policy: Policy, now: datetime
) -> TrackedCase:
    """The tracking page of the case the page holds: the public timeline the track allows, the
    web notices for its reporter, open questions, and whether 撤回, 回访 or 异议 is open (异议 by
    the chat's rule, ``dispositions.objectable``: within the configured working days). A clue's
    撤回 waiting for its team leader is said, and not offered again meanwhile."""
    reporter, case = await _tracked(session, case_id)
    assert case.id is not None
    final = (await clue_state(session, case.id)).final
    asked = await pending_withdrawal(session, case.id)
    return TrackedCase(
        view=await reporter_view(session, case),
        notices=await _page_notices(session, case, reporter),
        questions=await _open_questions(session, case),
        may_withdraw=withdrawable(case) and asked is None,
        followup_asked=await _followup_asked(session, case, reporter),
        may_add_material=material_open(case),
        may_object=await objectable(session, case, policy, now),
        objected=final is not None and final.objected_at is not None,
        aftercare_asked=await aftercare_asked(session, case),
        withdrawal_asked_at=asked.created_at if asked is not None else None,
    )


async def answer_tracked_question(
    session: AsyncSession,
    case_id: int,
    relay_id: int,
    *,
    answer: str,
    policy: Policy,
    now: datetime,
) -> RelayMessage:
    """The answer to a question on the page's case, by the chat's rules: relayed as text to the
    inspector, once; the 办结 clock runs again when no question is left open."""
    reporter, case = await _tracked(session, case_id)
    relay = await session.get(RelayMessage, relay_id)
    if relay is None or relay.case_id != case.id:
        raise NotFound(
            "未找到该提问，此操作已失效。", detail=f"relay {relay_id} not on case {case_id}"
        )
    return await answer_question(session, reporter, relay_id, answer=answer, policy=policy, now=now)


async def start_tracked_material(session: AsyncSession, case_id: int) -> MaterialDraft:
    """补充材料 on the page is about to be read: an empty draft for the page's case while it is
    open (the chat's rule), else refused before any file is taken."""
    _, case = await _tracked(session, case_id)
    assert case.id is not None
    if not material_open(case):
        raise InvalidInput(MATERIAL_CLOSED)
    return MaterialDraft(case_id=case.id)


async def add_tracked_material(
    session: AsyncSession, case_id: int, *, material: MaterialDraft, now: datetime
) -> MaterialAdded:
    """补充材料 on the page, by the chat's rules and use case: the files and note kept on the
    case, 补充材料 on its timeline, and whoever holds it told as when a chat reporter adds them."""
    reporter, case = await _tracked(session, case_id)
    if material.case_id != case.id:
        raise NotTracked(detail=f"material for case {material.case_id} sent to case {case_id}")
    return await add_material_for(session, reporter, case, material=material, now=now)


async def withdraw_tracked_case(session: AsyncSession, case_id: int, *, now: datetime) -> Case:
    """撤回 on the page, until an inspector signs for the case, by the chat's rules."""
    reporter, case = await _tracked(session, case_id)
    return await withdraw_for(session, reporter, case, now=now)


async def object_tracked_case(
    session: AsyncSession, case_id: int, *, text: str, policy: Policy, now: datetime
) -> None:
    """异议 on the page: a 实名 clue's reporter objects to its result, once, by the chat's rules
    (``dispositions.object_to_result``: recorded, sent to the 委领导)."""
    reporter, case = await _tracked(session, case_id)
    assert case.id is not None
    await object_to_result(
        session, case.id, text=text, reporter_id=reporter.id, policy=policy, now=now
    )


async def _asked(session: AsyncSession, case_id: int) -> tuple[Reporter, Case]:
    reporter, case = await _tracked(session, case_id)
    assert case.id is not None
    check_followup(reporter, case, case.id)
    if not await _followup_asked(session, case, reporter):
        raise FollowupClosed("尚未到回访评价的时间。", detail=f"case {case_id}: 回访 not asked")
    return reporter, case


async def rate_tracked_case(
    session: AsyncSession, case_id: int, *, rating: Satisfaction, now: datetime
) -> Case:
    """回访 on the page once asked: 满意 or 基本满意 closes the case, as in the chat."""
    reporter, case = await _asked(session, case_id)
    return await rate_for(session, reporter, case, rating=rating, now=now)


async def reopen_tracked_case(
    session: AsyncSession, case_id: int, *, reason: str, policy: Policy, now: datetime
) -> Reopened:
    """回访 on the page once asked: 不满意 with a reason is 重办, as in the chat — the case
    reopens with a new 办结 deadline and the team leader and the assignee are told why."""
    reason = check_reason(reason)
    reporter, case = await _asked(session, case_id)
    return await reopen_for(session, reporter, case, reason=reason, policy=policy, now=now)


async def answer_tracked_aftercare(
    session: AsyncSession,
    case_id: int,
    *,
    retaliated: bool,
    text: str | None,
    policy: Policy,
    now: datetime,
    counted: Counter | None = None,
) -> Opened | None:
    """防打击报复回访 on the page once asked, by the chat's rules: 没有 recorded (None back), or
    有 with the description opens a confidential clue (``aftercare.report_retaliation``)."""
    text = check_text(text)
    found, case = await _tracked(session, case_id)
    case, reporter = await check_aftercare(session, found, case, case_id)
    if not retaliated:
        await answer_none(session, reporter, case, now=now)
        return None
    return await report_retaliation(
        session, reporter, case, text=text, policy=policy, now=now, counted=counted
    )
