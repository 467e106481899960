"""提问 and the reporter's answer: questions relayed as text, the 办结 clock waiting meanwhile."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.clocks import pause_clock, resume_clock
from bot.services.inspectors import team_leaders
from bot.services.notices import reporters_of, tell_inspectors, tell_reporter
from bot.services.permissions import actor_of, clean_note, load_case, require_assignee
from bot.services.policy import Policy
from models.case import OPEN_STATUSES, WORKING_STATUSES, Case, reported_by, reporter_actor_id
from models.clock import ClockKind, ClockState
from models.errors import InvalidInput, NotFound, PermissionDenied, StaleAction
from models.event import Actor, ActorType, EventKind, record_event
from models.notification import Offer, work_offer
from models.org import Track
from models.relay import RelayMessage, RelayStatus
from models.reporter import CaseFollower, Reporter
from models.team import Inspector

ANSWER_MAX = 2000


async def ask_reporter(
    session: AsyncSession,
    actor: Inspector,
    case_id: int,
    *,
    question: str,
    now: datetime,
) -> RelayMessage:
    """提问: the question goes to the reporter's chat (and anyone following the case) with a
    回复 button, and the 办结 clock waits until it is answered. Nobody sees anyone's account."""
    case = await load_case(session, case_id)
    require_assignee(actor, case, WORKING_STATUSES, "提问")
    assert case.id is not None and actor.id is not None
    text = clean_note(question, "问题")
    if not await reporters_of(session, case):
        raise InvalidInput("反映人未通过本系统留下联系渠道，无法转达提问。")
    relay = RelayMessage(case_id=case.id, inspector_id=actor.id, question=text, asked_at=now)
    session.add(relay)
    await session.flush()
    assert relay.id is not None
    event = record_event(
        case,
        EventKind.QUESTION,
        actor_of(actor),
        now,
        note=text,
        data={"relay": relay.id},
        public=True,  # the reporter's timeline keeps the exchange (a web page has no chat)
    )
    session.add_all([case, event])
    await pause_clock(session, case.id, ClockKind.RESOLVE, now=now)
    await tell_reporter(
        session,
        case,
        "case_question",
        stage=event.seq,
        now=now,
        offer=Offer.RELAY_REPLY.on(relay.id),
        question=text,
    )
    await session.commit()
    return relay


async def cancel_open_questions(session: AsyncSession, case_id: int) -> None:
    """Questions to the reporter still waiting lapse with the work they were asked for (the case
    办结, merged, its clue disposed of, or gone to another team): none is left open to keep a
    later 办结 clock paused, and an answer sent to one is told it is no longer needed."""
    relays = await session.exec(
        select(RelayMessage).where(
            RelayMessage.case_id == case_id, RelayMessage.status == RelayStatus.OPEN
        )
    )
    for relay in relays.all():
        relay.status = RelayStatus.CANCELLED
        session.add(relay)


async def load_reporter(session: AsyncSession, telegram_user_id: int) -> Reporter:
    """The reporter using this Telegram account; anyone else is refused."""
    reporter = (
        await session.exec(select(Reporter).where(Reporter.telegram_user_id == telegram_user_id))
    ).first()
    if reporter is None:
        raise PermissionDenied(detail="not a reporter")
    return reporter


async def _may_answer(session: AsyncSession, reporter: Reporter, case: Case) -> bool:
    if reporter.id is None:
        return False
    if reported_by(case, reporter.id):
        return True
    follower = await session.get(CaseFollower, (case.id, reporter.id))
    return follower is not None


async def check_relay(session: AsyncSession, reporter: Reporter, relay_id: int) -> RelayMessage:
    """The question is still open and this account may answer it (the reporter or a follower)."""
    relay = await session.get(RelayMessage, relay_id, populate_existing=True)
    if relay is None:
        raise NotFound("未找到该提问，此操作已失效。", detail=f"relay {relay_id} not found")
    case = await load_case(session, relay.case_id)
    if not await _may_answer(session, reporter, case):
        raise PermissionDenied(detail=f"relay {relay_id}: not this reporter's case")
    if relay.status is not RelayStatus.OPEN or case.status not in OPEN_STATUSES:
        raise StaleAction("该提问已答复或已结束，无需再回复。", detail=f"relay {relay_id} closed")
    return relay


async def _answer_recipients(session: AsyncSession, case: Case) -> list[Inspector]:
    """Whoever works the case now (the asker, unless it was re-assigned), else its leaders."""
    if case.assignee_id is not None:
        person = await session.get(Inspector, case.assignee_id)
        if person is not None and person.active:
            return [person]
    return await team_leaders(session, case.team_id, track=case.track)


async def answer_question(
    session: AsyncSession,
    reporter: Reporter,
    relay_id: int,
    *,
    answer: str,
    policy: Policy,
    now: datetime,
) -> RelayMessage:
    """The reporter's answer is relayed to the inspector as text (never forwarded), and once no
    question is left open the 办结 clock runs again, its deadline moved by the days it waited."""
    relay = await check_relay(session, reporter, relay_id)
    case = await load_case(session, relay.case_id)
    assert case.id is not None
    text = clean_note(answer, "回复内容", ANSWER_MAX)
    relay.answer = text
    relay.status = RelayStatus.ANSWERED
    relay.answered_at = now
    session.add(relay)
    event = record_event(
        case,
        EventKind.ANSWER,
        Actor(ActorType.REPORTER, reporter_actor_id(case, reporter.id)),
        now,
        note=text,
        data={"relay": relay.id},
        public=True,
    )
    session.add_all([case, event])
    await session.flush()
    still_open = (
        await session.exec(
            select(RelayMessage.id).where(
                RelayMessage.case_id == case.id, RelayMessage.status == RelayStatus.OPEN
            )
        )
    ).first()
    resolve = None
    if still_open is None:
        resolve = await resume_clock(
            session,
            case.id,
            ClockKind.RESOLVE,
            calendar=policy.calendar,
            now=now,
            warn_before=policy.warn_before,
        )
    await tell_inspectors(
        session,
        case,
        await _answer_recipients(session, case),
        "inspector_answer",
        stage=event.seq,
        now=now,
        offer=work_offer(case.id, clue=case.track is Track.CLUE),
        question=relay.question,
        answer=text,
        resolve_due=resolve.due_at if resolve and resolve.state is ClockState.RUNNING else None,
    )
    await session.commit()
    return relay
