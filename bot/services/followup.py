"""回访: the reporter rates a resolved case; 不满意 with a reason reopens it (重办), or, past the
configured number of 重办, leaves it to the 委领导.

The question itself is asked by the deadline sweep when the 回访 clock falls due; closing an
unanswered case as 未评价 is the sweep's too (``bot.services.sweep``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.clocks import cancel_clock, get_clock, meet_clock, start_ladder_clock
from bot.services.notices import tell_inspectors, tell_reporter
from bot.services.people import Directory, unique
from bot.services.policy import Policy
from models.case import Case, CaseStatus, Satisfaction, reported_by, reporter_actor_id
from models.clock import ClockKind, ClockState
from models.errors import InvalidInput, PermissionDenied, StaleAction
from models.event import Actor, ActorType, EventKind, record_event, transition
from models.notification import Notice, Offer
from models.reporter import Reporter
from models.request import ApprovalRequest
from models.team import Inspector, Role
from notifications.outbox import enqueue, reachable
from notifications.texts import case_params, request_params

REASON_MIN = 2
REASON_MAX = 500


@dataclass(frozen=True, slots=True)
class Reopened:
    """A case reopened at 回访, with its new 办结 deadline; or, ``referred``, left to the
    委领导 (past the 重办 limit), with none yet."""

    case: Case
    due_at: datetime | None
    provisional: bool
    referred: bool = False


class FollowupClosed(StaleAction):
    message = "该问题已结案或已在重新办理，无需再评价。感谢您的反馈！"


class ReopenLapsed(StaleAction):
    message = "该问题已不在待决定状态，此重办申请已失效。"


def check_followup(reporter: Reporter | None, case: Case | None, case_id: int) -> Case:
    """The case may be rated by ``reporter``: it is theirs, and it is resolved (not yet closed
    or reopened)."""
    if reporter is None or case is None or not reported_by(case, reporter.id):
        raise PermissionDenied(detail=f"follow-up of case {case_id} by a non-reporter")
    if case.status is not CaseStatus.RESOLVED:
        raise FollowupClosed(detail=f"case {case_id} is {case.status}")
    return case


async def get_followup_case(
    session: AsyncSession, telegram_user_id: int, case_id: int
) -> tuple[Case, Reporter]:
    """The resolved case this Telegram account reported and may rate, while its 回访 question is
    open (an answered one, a 不满意 waiting for the 委领导 included, takes no second answer)."""
    reporter = (
        await session.exec(select(Reporter).where(Reporter.telegram_user_id == telegram_user_id))
    ).first()
    case = check_followup(reporter, await session.get(Case, case_id), case_id)
    assert reporter is not None
    clock = await get_clock(session, case_id, ClockKind.FOLLOWUP)
    if clock is None or clock.state is not ClockState.RUNNING:
        raise FollowupClosed(detail=f"case {case_id}: 回访 already answered")
    return case, reporter


async def rate_for(
    session: AsyncSession,
    reporter: Reporter,
    case: Case,
    *,
    rating: Satisfaction,
    now: datetime,
) -> Case:
    """满意 or 基本满意 by the case's reporter (checked with ``check_followup``): the rating is
    kept and the case is closed."""
    if rating not in (Satisfaction.SATISFIED, Satisfaction.BASIC):
        raise InvalidInput(detail=f"rating {rating} needs a reason")
    actor = Actor(ActorType.REPORTER, reporter_actor_id(case, reporter.id))
    case.satisfaction = rating
    case.closed_at = now
    session.add(
        record_event(
            case,
            EventKind.FOLLOWUP_ANSWERED,
            actor,
            now,
            data={"satisfaction": rating.value},
            public=True,
        )
    )
    session.add(
        transition(
            case,
            CaseStatus.CLOSED,
            EventKind.CLOSED,
            actor,
            now,
            data={"satisfaction": rating.value},
            public=True,
        )
    )
    assert case.id is not None
    await meet_clock(session, case.id, ClockKind.FOLLOWUP, now=now)
    session.add(case)
    await session.commit()
    return case


async def rate_case(
    session: AsyncSession,
    telegram_user_id: int,
    case_id: int,
    *,
    rating: Satisfaction,
    now: datetime,
) -> Case:
    """满意 or 基本满意: the rating is kept and the case is closed."""
    case, reporter = await get_followup_case(session, telegram_user_id, case_id)
    return await rate_for(session, reporter, case, rating=rating, now=now)


def check_reason(text: str) -> str:
    """The reporter's reason for 不满意: a few words at least, at most ``REASON_MAX``."""
    reason = text.strip()
    if len(reason) < REASON_MIN:
        raise InvalidInput("请用一两句话说明不满意的原因。")
    if len(reason) > REASON_MAX:
        raise InvalidInput(f"原因请控制在{REASON_MAX}字以内。")
    return reason


async def reopen_unsatisfied(
    session: AsyncSession,
    telegram_user_id: int,
    case_id: int,
    *,
    reason: str,
    policy: Policy,
    now: datetime,
) -> Reopened:
    """不满意 with a reason: 重办 — the case reopens with a new 办结 deadline, and the team
    leader and the assignee are told why."""
    reason = check_reason(reason)
    case, reporter = await get_followup_case(session, telegram_user_id, case_id)
    return await reopen_for(session, reporter, case, reason=reason, policy=policy, now=now)


async def reopen_for(
    session: AsyncSession,
    reporter: Reporter,
    case: Case,
    *,
    reason: str,
    policy: Policy,
    now: datetime,
) -> Reopened:
    """不满意 with a reason by the case's reporter (checked with ``check_followup``): 重办 — the
    case reopens with a new 办结 deadline, and the team leader and the assignee are told why.
    Past ``[limits] max_reopens`` 重办 the case does not reopen by itself: the 委领导 decide
    (a 重办 request, ``decide_reopen``), unless no 委领导 is registered."""
    reason = check_reason(reason)
    assert case.id is not None
    actor = Actor(ActorType.REPORTER, reporter_actor_id(case, reporter.id))
    case.satisfaction = Satisfaction.UNSATISFIED
    case.satisfaction_note = reason
    session.add(
        record_event(
            case,
            EventKind.FOLLOWUP_ANSWERED,
            actor,
            now,
            note=reason,
            data={"satisfaction": Satisfaction.UNSATISFIED.value},
            public=True,
        )
    )
    await meet_clock(session, case.id, ClockKind.FOLLOWUP, now=now)
    leaders = await reachable(session, Role.LEADER)
    if case.reopen_count >= policy.config.limits.max_reopens and leaders:
        return await _refer_to_leaders(session, case, actor, leaders, reason=reason, now=now)
    return await reopen(session, case, actor, reason=reason, policy=policy, now=now)


async def _refer_to_leaders(
    session: AsyncSession,
    case: Case,
    actor: Actor,
    leaders: list[Inspector],
    *,
    reason: str,
    now: datetime,
) -> Reopened:
    """The 不满意 past the 重办 limit: a 重办 request for the 委领导, the case left 已办结."""
    assert case.id is not None
    request = ApprovalRequest.reopen(case.id, reason=reason, at=now)
    session.add(request)
    await session.flush()
    assert request.id is not None
    event = record_event(
        case,
        EventKind.REOPEN_REFERRED,
        actor,
        now,
        note=reason,
        data={"request": request.id, "reopen_count": case.reopen_count},
        public=True,
    )
    session.add_all([case, event])
    await tell_inspectors(
        session,
        case,
        leaders,
        "leader_request",
        stage=event.seq,
        now=now,
        offer=Offer.REQUEST_DECISION.on(request.id),
        request=request_params(request),
        kind_label=request.kind.label,
        requester="反映人（回访不满意）",
        supervised=case.supervised,
        status=case.status.label,
        resolve_due=None,
        reopen_count=case.reopen_count,
    )
    await session.commit()  # the reporter reads it in the reply and on their timeline
    return Reopened(case, None, False, referred=True)


async def decide_reopen(
    session: AsyncSession,
    request: ApprovalRequest,
    case: Case,
    *,
    who: Actor,
    approve: bool,
    policy: Policy,
    now: datetime,
) -> Reopened | None:
    """The 委领导's decision on a 重办 request: approved, the case reopens as a 不满意 would
    have reopened it; refused, it is closed (不满意 kept). The reporter is told either way. The
    caller recorded the decision on ``request``; this commits."""
    if case.status is not CaseStatus.RESOLVED:
        raise ReopenLapsed(detail=f"case {case.id} is {case.status}")
    session.add(request)
    if approve:
        reopened = await reopen(
            session, case, who, reason=request.reason, policy=policy, now=now, commit=False
        )
        await tell_reporter(
            session,
            case,
            "reporter_reopen_decided",
            stage=case.event_count,
            now=now,
            approved=True,
            due_at=reopened.due_at,
        )
        await session.commit()
        return reopened
    case.closed_at = now
    event = transition(
        case,
        CaseStatus.CLOSED,
        EventKind.REOPEN_DECLINED,
        who,
        now,
        data={"request": request.id},
        public=True,
    )
    session.add_all([case, event])
    await tell_reporter(
        session, case, "reporter_reopen_decided", stage=event.seq, now=now, approved=False
    )
    await session.commit()
    return None


async def reopen(
    session: AsyncSession,
    case: Case,
    actor: Actor,
    *,
    reason: str,
    policy: Policy,
    now: datetime,
    commit: bool = True,
) -> Reopened:
    """重办: the case reopens with a new 办结 deadline; the assignee and the team leader are
    told why."""
    assert case.id is not None
    case.reopen_count += 1
    session.add(
        transition(
            case,
            CaseStatus.REOPENED,
            EventKind.REOPENED,
            actor,
            now,
            note=reason,
            data={"reopen_count": case.reopen_count},
            public=True,
        )
    )
    clock = await start_ladder_clock(
        session, case, ClockKind.RESOLVE, config=policy.config, calendar=policy.calendar, now=now
    )
    await cancel_clock(session, case.id, ClockKind.AFTERCARE)  # the next 办结 starts it again
    session.add(case)
    await session.flush()
    directory = await Directory.load(session)
    assignee = directory.person(case.assignee_id)
    for recipient in unique(
        [*([assignee] if assignee else []), *directory.team_leaders(case.team_id, track=case.track)]
    ):
        is_assignee = assignee is not None and recipient.id == assignee.id
        await enqueue(
            session,
            kind="followup_reopened",
            to=recipient,
            case_id=case.id,
            stage=case.reopen_count,
            notice=Notice.of(
                "followup_reopened",
                case=case_params(case),
                reason=reason,
                due_at=clock.due_at,
                provisional=clock.provisional,
                assignee=assignee.name if assignee and not is_assignee else None,
            ),
            offer=Offer.CASE_WORK.on(case.id) if is_assignee else None,
            now=now,
        )
    if commit:
        await session.commit()
    return Reopened(case, clock.due_at, clock.provisional)
