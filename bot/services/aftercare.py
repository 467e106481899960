"""防打击报复回访: ``[aftercare] days`` working days after 办结 (an appeal's, or a clue's final
disposition) the reporter is asked once more whether, since reporting, they have met
obstruction, retaliation or 吃拿卡要 (刁难、打击报复或吃拿卡要).

The clock starts at 办结 for a reporter who can be reached (``start_aftercare``); the deadline
sweep asks (没有 · 有, in the chat or on the ``/t`` page) and, after ``answer_days`` without an
answer, records 未答复 (``bot.services.sweep_plan``). The answer is taken once, from the case's
own reporter, read from the database:

- 没有: recorded on the case, the question closed;
- 有 (with a short description if the reporter gives one on the page; in the chat at the
  press, details then added as the reporter's 补充材料): recorded on the case, and a NEW
  clue of ``[aftercare] category`` is submitted through the intake (``submit_case``), as the
  same reporter, 实名 or 匿名 as the first case was (an anonymous one keeps the sealed link),
  linked to the first case (``prompted_by_id``) and routed as clues are routed — never back to
  the first case's team nor to its assignee (``routing``), never a 疑似重复件 (``repeats``). The
  委领导 are told at once: which case (a clue: not its number), which clue number and team,
  never who reported or what they said.

Confidentiality: the first case's record says only that the question was answered (its data
keeps the answer for the figures; the console names no clue there), so the team that handled
the first case is never told of the clue; only the clue's own team leader and assignee see it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.clocks import get_clock, meet_clock, start_clock
from bot.services.intake import Counter, submit_case
from bot.services.notices import team_name
from bot.services.policy import Policy
from models.case import (
    FINISHED_STATUSES,
    Case,
    aftercare_reachable,
    reported_by,
    reporter_actor_id,
    reporter_of,
)
from models.clock import CaseClock, ClockKind, ClockStage, ClockState
from models.errors import InvalidInput, PermissionDenied, StaleAction
from models.event import Actor, ActorType, EventKind, record_event
from models.intake import CaseDraft, clean_text
from models.notification import Notice, Recipient
from models.org import Track
from models.reporter import Reporter, ReporterContact
from models.team import Role
from notifications.outbox import enqueue, notification_key, reachable

TEXT_MAX = 1000
"""The reporter's description of what happened, at most (the clue's description holds it)."""

ANSWER_NONE = "none"
ANSWER_YES = "yes"


class AftercareClosed(StaleAction):
    message = "此次回访已答复或已结束，无需再次答复。感谢您的反馈！"


@dataclass(frozen=True, slots=True)
class Opened:
    """The clue a 有 opened: its 受理编号, and for a report found by its receipt code (匿名, or
    made on the web) the new clue's receipt code, shown once."""

    clue: Case
    receipt_code: str | None


async def start_aftercare(
    session: AsyncSession, case: Case, *, policy: Policy, now: datetime
) -> CaseClock | None:
    """At 办结: the 防打击报复回访 clock starts, ``[aftercare] days`` working days out, when it
    is switched on and the reporter can be reached (a chat, or the web page while the receipt
    code opens the case); a 办结 after 重办 starts it again. The caller commits."""
    settings = policy.config.aftercare
    if not settings.enabled:
        return None
    reporter_id = reporter_of(case)
    reporter = await session.get(Reporter, reporter_id) if reporter_id is not None else None
    if reporter is None or not aftercare_reachable(reporter, case):
        return None
    return await start_clock(
        session,
        case,
        ClockKind.AFTERCARE,
        workdays=settings.days,
        calendar=policy.calendar,
        now=now,
        warn_before=0,  # no warning: asked at 09:00 of its day
    )


async def aftercare_asked(session: AsyncSession, case: Case) -> bool:
    """The question is open: the sweep asked it and nobody answered yet (the clock runs past
    its first step). Read from the clock, not the outbox (an anonymous question names no case)."""
    assert case.id is not None
    if case.status not in FINISHED_STATUSES:
        return False
    clock = await get_clock(session, case.id, ClockKind.AFTERCARE)
    return (
        clock is not None and clock.state is ClockState.RUNNING and clock.stage >= ClockStage.WARNED
    )


async def check_aftercare(
    session: AsyncSession, reporter: Reporter | None, case: Case | None, case_id: int
) -> tuple[Case, Reporter]:
    """The answer comes from the case's own reporter while the question is open; a second
    answer, or one after it closed, is refused politely."""
    if reporter is None or case is None or not reported_by(case, reporter.id):
        raise PermissionDenied(detail=f"aftercare of case {case_id} by a non-reporter")
    if not await aftercare_asked(session, case):
        raise AftercareClosed(detail=f"case {case_id}: aftercare not open")
    return case, reporter


async def get_aftercare_case(
    session: AsyncSession, telegram_user_id: int, case_id: int
) -> tuple[Case, Reporter]:
    """The case this Telegram account reported whose 防打击报复回访 is open (``check_aftercare``)."""
    reporter = (
        await session.exec(select(Reporter).where(Reporter.telegram_user_id == telegram_user_id))
    ).first()
    return await check_aftercare(session, reporter, await session.get(Case, case_id), case_id)


def check_text(text: str | None) -> str | None:
    """The reporter's optional description: none, or at most ``TEXT_MAX`` characters."""
    cleaned = clean_text(text or "")
    if not cleaned:
        return None
    if len(cleaned) > TEXT_MAX:
        raise InvalidInput(f"情况说明请控制在{TEXT_MAX}字以内（现{len(cleaned)}字）。")
    return cleaned


async def _answered(
    session: AsyncSession, reporter: Reporter, case: Case, answer: str, now: datetime
) -> Actor:
    """The answer on the first case (private: not on its timeline), the question closed."""
    assert case.id is not None
    actor = Actor(ActorType.REPORTER, reporter_actor_id(case, reporter.id))
    session.add(
        record_event(case, EventKind.AFTERCARE_ANSWERED, actor, now, data={"answer": answer})
    )
    await meet_clock(session, case.id, ClockKind.AFTERCARE, now=now)
    session.add(case)
    return actor


async def answer_none(
    session: AsyncSession, reporter: Reporter, case: Case, *, now: datetime
) -> None:
    """没有: recorded on the case, the question closed (``check_aftercare`` first)."""
    await _answered(session, reporter, case, ANSWER_NONE, now)
    await session.commit()


def clue_description(case: Case, text: str | None) -> str:
    """What the clue says: the question answered 有, the case it followed (a clue by no number:
    the new clue's handlers are another team), and the reporter's own words if any (in the chat
    they come afterwards, as 补充材料)."""
    first = (
        "问题线索（不显示编号）" if case.track is Track.CLUE else f"问题（受理编号 {case.number}）"
    )
    head = (
        f"【防打击报复回访】反映人对已办结{first}回访时反映："
        "自反映问题以来遇到刁难、打击报复或吃拿卡要等情况。"
    )
    return head + (f"具体情况：{text}" if text else "具体情况以反映人补充的材料为准（如有）。")


async def _draft(session: AsyncSession, case: Case, description: str, category: str) -> CaseDraft:
    """The clue as its reporter would have entered it: 实名 with the first case's contact, or
    匿名 (also when that contact has been purged)."""
    contact = None
    if not case.anonymous:
        contact = (
            await session.exec(select(ReporterContact).where(ReporterContact.case_id == case.id))
        ).first()
    if contact is None:
        return CaseDraft(category, description, anonymous=True)
    return CaseDraft(
        category,
        description,
        anonymous=False,
        contact_name=contact.name_plain(),
        contact_phone=contact.phone_plain(),
    )


async def report_retaliation(
    session: AsyncSession,
    reporter: Reporter,
    case: Case,
    *,
    text: str | None,
    policy: Policy,
    now: datetime,
    counted: Counter | None = None,
) -> Opened:
    """有 (``check_aftercare`` first): recorded on the case, and a confidential clue of
    ``[aftercare] category`` submitted through the intake as this reporter, 匿名 or 实名 as the
    case was, linked to it and routed as clues are; the 委领导 told at once, without the
    reporter. One transaction; the new case is ``counted`` once committed."""
    text = check_text(text)
    assert case.id is not None
    await _answered(session, reporter, case, ANSWER_YES, now)
    draft = await _draft(
        session, case, clue_description(case, text), policy.config.aftercare.category
    )
    submitted = await submit_case(
        session, reporter, draft, policy=policy, now=now, prompted_by=case, commit=False
    )
    clue = submitted.case
    assert reporter.id is not None
    # the clue's own anonymity names (or not) its reporter: a named case whose contact was
    # purged opens an anonymous clue
    on_clue = Actor(ActorType.REPORTER, reporter_actor_id(clue, reporter.id))
    session.add(
        record_event(
            clue, EventKind.AFTERCARE_CLUE, on_clue, now, data={"prompted_by": case.number}
        )
    )
    session.add(clue)
    await _tell_leaders(session, case, clue, now)
    await session.commit()
    if counted is not None:
        counted.inc()
    return Opened(clue, submitted.receipt_code)


async def _tell_leaders(session: AsyncSession, case: Case, clue: Case, now: datetime) -> None:
    """The 委领导, at once: the case and its team, the clue's number and team; the notice names
    no clue row (``case_id`` empty) and nothing of the reporter or what they said. A first case
    that is itself a clue is not numbered (clue numbers are not shown to the 委领导)."""
    assert clue.id is not None
    notice = Notice.of(
        "aftercare_leader",
        number=None if case.track is Track.CLUE else case.number,
        team=await team_name(session, case.team_id),
        clue_number=clue.number,
        clue_team=await team_name(session, clue.team_id),
    )
    for leader in await reachable(session, Role.LEADER):
        to = Recipient.inspector(leader)
        await enqueue(
            session,
            key=notification_key("aftercare_leader", case_id=clue.id, recipient=to.tag),
            kind="aftercare_leader",
            to=to,
            notice=notice,
            now=now,
        )


async def answer_by_chat(
    session: AsyncSession,
    telegram_user_id: int,
    case_id: int,
    *,
    retaliated: bool,
    text: str | None,
    policy: Policy,
    now: datetime,
    counted: Counter | None = None,
) -> Opened | None:
    """The chat's answer, authorised from the database (the button's case id is only a hint):
    没有 (None back) or 有 (the clue opened)."""
    case, reporter = await get_aftercare_case(session, telegram_user_id, case_id)
    if not retaliated:
        await answer_none(session, reporter, case, now=now)
        return None
    return await report_retaliation(
        session, reporter, case, text=text, policy=policy, now=now, counted=counted
    )
