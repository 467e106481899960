"""Working a case: what inspectors, team leaders, leaders and admins do, one use case per action.

Every use case re-reads the case and checks, from the database, who acts (role, team,
assignment) and where the case stands, before it changes anything; then it writes the change,
its event and its notices in one transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LiankaConfig
from bot.services.case_lists import require_view
from bot.services.clocks import (
    cancel_clock,
    extend_clock,
    get_clock,
    meet_clock,
    pause_clock,
    resume_clock,
    start_ladder_clock,
)
from bot.services.inspectors import TEAM_ROLES, team_leaders
from bot.services.routing import assign_case, list_team_members, open_case_counts, place_case
from models.attachment import Attachment
from models.calendar import WorkCalendar
from models.case import (
    OPEN_STATUSES,
    WORKING_STATUSES,
    Case,
    CaseStatus,
    Outcome,
    reporter_label,
)
from models.clock import ClockKind, ClockStage, ClockState
from models.enterprise import Enterprise
from models.errors import InvalidInput, NotFound, PermissionDenied, StaleAction
from models.event import Actor, ActorType, CaseEvent, EventKind, record_event, transition
from models.intake import AMOUNT_MAX_YUAN, clean_text
from models.notification import Offer, Offering, RecipientKind
from models.org import Category, Track, Zone
from models.relay import RelayMessage, RelayStatus
from models.reporter import CaseFollower, Reporter, ReporterContact
from models.request import ApprovalRequest, RequestKind, RequestStatus
from models.team import AssignmentMode, Inspector, Role, Team
from notifications.outbox import enqueue, notification_key, notify_inspectors
from notifications.render import render
from notifications.texts import preview

logger = logging.getLogger(__name__)

NOTE_MAX = 1000
ANSWER_MAX = 2000
EXTENSION_MAX_DAYS = 30
RETURNABLE = frozenset({CaseStatus.ASSIGNED, CaseStatus.ACCEPTED})
"""退回 to the dispatcher: before the work has started (the transition table says so)."""
TRANSFERABLE = frozenset({CaseStatus.ASSIGNED, CaseStatus.ACCEPTED, CaseStatus.IN_PROGRESS})
"""转办 to another team: until the case is resolved (a 重办 case stays with its team)."""
ASSIGNABLE = frozenset(
    {
        CaseStatus.SUBMITTED,
        CaseStatus.ASSIGNED,
        CaseStatus.RETURNED,
        CaseStatus.ACCEPTED,
        CaseStatus.IN_PROGRESS,
        CaseStatus.REOPENED,
    }
)


# --- who may do what ---------------------------------------------------------------------------


def actor_of(inspector: Inspector) -> Actor:
    """How a person appears in the history: admins as admins, everyone else as inspectors."""
    kind = ActorType.ADMIN if inspector.role is Role.ADMIN else ActorType.INSPECTOR
    return Actor(kind, inspector.id)


async def load_case(session: AsyncSession, case_id: int) -> Case:
    """The case as the database has it now; an unknown id (forged or deleted) is refused."""
    case = await session.get(Case, case_id, populate_existing=True)
    if case is None:
        raise NotFound("未找到该问题，此操作已失效。", detail=f"case {case_id} not found")
    return case


def _moved_on(case: Case, action: str) -> StaleAction:
    return StaleAction(
        f"此操作已过期：问题 {case.number} 当前为“{case.status.label}”，不能{action}。",
        detail=f"case {case.id} is {case.status}, cannot {action}",
    )


def require_assignee(
    actor: Inspector, case: Case, statuses: frozenset[CaseStatus], action: str
) -> None:
    """Only the case's assignee, still in the case's team, and only in ``statuses``."""
    if (
        actor.role not in TEAM_ROLES
        or case.assignee_id != actor.id
        or case.team_id != actor.team_id
    ):
        raise PermissionDenied(
            "该问题不在您的办理范围内，无权操作。",
            detail=f"case {case.id}: inspector {actor.id} is not its assignee",
        )
    if case.status not in statuses:
        raise _moved_on(case, action)


def leads_team(actor: Inspector, case: Case) -> bool:
    """A team leader of the case's team, or, for an appeal, an admin (who stands in for teams
    without one); a clue is handled by its team leader alone."""
    if actor.role is Role.ADMIN:
        return case.track is Track.APPEAL
    return (
        actor.role is Role.TEAM_LEADER
        and case.team_id is not None
        and actor.team_id == case.team_id
    )


def require_team_leader(actor: Inspector, case: Case) -> None:
    if not leads_team(actor, case):
        raise PermissionDenied(
            "只有本组组长可以进行此操作。",
            detail=f"case {case.id}: inspector {actor.id} does not lead its team",
        )


ACTION_STATUSES: dict[str, tuple[frozenset[CaseStatus], str]] = {
    "acc": (frozenset({CaseStatus.ASSIGNED}), "签收"),
    "ret": (TRANSFERABLE, "退回或转办"),
    "ask": (WORKING_STATUSES, "提问"),
    "prg": (WORKING_STATUSES, "记录进展"),
    "ext": (WORKING_STATUSES, "申请延期"),
    "res": (WORKING_STATUSES, "办结"),
}


async def check_case_action(
    session: AsyncSession, actor: Inspector, case_id: int, action: str
) -> Case:
    """Before a multi-step action starts: the same checks its use case will make at the end."""
    case = await load_case(session, case_id)
    statuses, label = ACTION_STATUSES[action]
    require_assignee(actor, case, statuses, label)
    return case


def clean_note(value: str, what: str, limit: int = NOTE_MAX) -> str:
    """Text an inspector or reporter typed: cleaned, not empty, at most ``limit`` characters."""
    text = clean_text(value)
    if not text:
        raise InvalidInput(f"请输入{what}。")
    if len(text) > limit:
        raise InvalidInput(f"{what}太长（{len(text)}字），请精简到{limit}字以内。")
    return text


# --- notices -----------------------------------------------------------------------------------


async def _reporters(session: AsyncSession, case: Case) -> list[Reporter]:
    """Whoever follows the case from Telegram: the reporter and anyone with its receipt code."""
    people: dict[int, Reporter] = {}
    if case.reporter_id is not None:
        reporter = await session.get(Reporter, case.reporter_id)
        if reporter is not None and reporter.id is not None:
            people[reporter.id] = reporter
    followers = await session.exec(
        select(Reporter)
        .join(CaseFollower, col(CaseFollower.reporter_id) == col(Reporter.id))
        .where(CaseFollower.case_id == case.id)
        .order_by(col(Reporter.id))
    )
    for follower in followers.all():
        assert follower.id is not None
        people.setdefault(follower.id, follower)
    return list(people.values())


async def _tell_reporter(
    session: AsyncSession,
    case: Case,
    kind: str,
    stage: int,
    now: datetime,
    offer: Offering | None = None,
    **context: Any,
) -> None:
    """A notice to the reporter's chat (never their identity to anyone else)."""
    assert case.id is not None
    text = render(kind, case=case, status=reporter_label(case.status, case.track), **context)
    for reporter in await _reporters(session, case):
        await enqueue(
            session,
            key=notification_key(kind, case_id=case.id, stage=stage, recipient=f"r{reporter.id}"),
            kind=kind,
            chat_id=reporter.chat_id,
            recipient_kind=RecipientKind.REPORTER,
            recipient_id=reporter.id,
            case_id=case.id,
            text=text,
            offer=offer,
            now=now,
        )


async def _tell_inspectors(
    session: AsyncSession,
    case: Case,
    people: list[Inspector],
    kind: str,
    stage: int,
    now: datetime,
    offer: Offering | None = None,
    **context: Any,
) -> None:
    assert case.id is not None
    text = render(kind, case=case, **context)
    await notify_inspectors(session, case.id, people, kind, stage, text, now, offer=offer)


async def _team_name(session: AsyncSession, team_id: int | None) -> str:
    team = await session.get(Team, team_id) if team_id else None
    return team.name if team else "—"


async def _cancel_pending(
    session: AsyncSession, case_id: int, now: datetime, why: str, requester: int | None = None
) -> None:
    """Requests that no longer make sense (the case moved on) are withdrawn."""
    query = select(ApprovalRequest).where(
        ApprovalRequest.case_id == case_id, ApprovalRequest.status == RequestStatus.PENDING
    )
    if requester is not None:
        query = query.where(ApprovalRequest.requested_by_id == requester)
    for request in (await session.exec(query)).all():
        request.status = RequestStatus.CANCELLED
        request.decided_at = now
        request.decision_note = why
        session.add(request)


async def _pending(session: AsyncSession, case_id: int, kinds: tuple[RequestKind, ...]) -> bool:
    return (
        await session.exec(
            select(ApprovalRequest.id).where(
                ApprovalRequest.case_id == case_id,
                ApprovalRequest.status == RequestStatus.PENDING,
                col(ApprovalRequest.kind).in_(kinds),
            )
        )
    ).first() is not None


# --- 签收 ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Accepted:
    case: Case
    resolve_due_at: datetime
    resolve_provisional: bool


async def accept_case(
    session: AsyncSession,
    actor: Inspector,
    case_id: int,
    config: LiankaConfig,
    calendar: WorkCalendar,
    now: datetime,
) -> Accepted:
    """签收: assigned → accepted; the 签收 clock is met, the 办结 clock starts (unless the case
    already has one running from before a re-assignment in the team), and the reporter is told
    it is accepted (受理告知, which meets the first-reply clock): on the first acceptance, and for
    an appeal again after it moved to another team."""
    case = await load_case(session, case_id)
    require_assignee(actor, case, frozenset({CaseStatus.ASSIGNED}), "签收")
    assert case.id is not None
    who = actor_of(actor)
    event = transition(case, CaseStatus.ACCEPTED, EventKind.ACCEPTED, who, now, public=True)
    session.add(event)
    tell = case.first_reply_at is None or (case.accepted_at is None and case.track is Track.APPEAL)
    case.accepted_at = now
    await meet_clock(session, case.id, ClockKind.ACCEPT, now)
    category = await session.get(Category, case.category_id)
    assert category is not None
    resolve = await get_clock(session, case.id, ClockKind.RESOLVE)
    if resolve is None or resolve.state in (ClockState.MET, ClockState.CANCELLED):
        resolve = await start_ladder_clock(session, case, ClockKind.RESOLVE, config, calendar, now)
    if case.first_reply_at is None:
        event = record_event(case, EventKind.FIRST_REPLY, who, now, public=True)
        session.add(event)
        case.first_reply_at = now
        await meet_clock(session, case.id, ClockKind.FIRST_REPLY, now)
    if tell:
        await _tell_reporter(
            session,
            case,
            "case_accepted",
            event.seq,
            now,
            team=await _team_name(session, case.team_id),
            category=category.name,
            resolve_due=resolve.due_at,
            provisional=resolve.provisional,
        )
    session.add(case)
    await session.commit()
    return Accepted(case, resolve.due_at, resolve.provisional)


# --- 退回 / 转办 ----------------------------------------------------------------------------------


async def _ask_leaders(
    session: AsyncSession,
    case: Case,
    request: ApprovalRequest,
    requester: Inspector,
    stage: int,
    now: datetime,
    **context: Any,
) -> None:
    assert request.id is not None
    resolve = await get_clock(session, case.id or 0, ClockKind.RESOLVE)
    await _tell_inspectors(
        session,
        case,
        await team_leaders(session, case.team_id, track=case.track),
        "leader_request",
        stage,
        now,
        offer=Offer.REQUEST_DECISION.on(request.id),
        request=request,
        kind_label=request.kind.label,
        requester=requester.name,
        supervised=case.supervised,
        status=case.status.label,
        resolve_due=resolve.due_at if resolve and resolve.state is ClockState.RUNNING else None,
        **context,
    )


async def _file_request(
    session: AsyncSession,
    case: Case,
    actor: Inspector,
    request: ApprovalRequest,
    kind: EventKind,
    data: dict[str, Any],
    now: datetime,
    *,
    target: str | None = None,
) -> ApprovalRequest:
    """Record the assignee's request and its event, put it before the team leaders, commit."""
    session.add(request)
    await session.flush()
    event = record_event(
        case, kind, actor_of(actor), now, note=request.reason, data={"request": request.id, **data}
    )
    session.add_all([case, event])
    await _ask_leaders(session, case, request, actor, event.seq, now, target=target)
    await session.commit()
    return request


async def request_return(
    session: AsyncSession, actor: Inspector, case_id: int, reason: str, now: datetime
) -> ApprovalRequest:
    """退回: the assignee asks, with a reason, to send the case back to the dispatcher; the team
    leader decides (and may send it straight to another team instead)."""
    case = await load_case(session, case_id)
    require_assignee(actor, case, RETURNABLE, "退回")
    assert case.id is not None and actor.id is not None
    text = clean_note(reason, "退回理由")
    if await _pending(session, case.id, (RequestKind.RETURN, RequestKind.TRANSFER)):
        raise InvalidInput("该问题已有待组长审批的退回或转办申请，请等待审批结果。")
    request = ApprovalRequest(
        case_id=case.id,
        kind=RequestKind.RETURN,
        requested_by_id=actor.id,
        reason=text,
        created_at=now,
    )
    return await _file_request(session, case, actor, request, EventKind.RETURN_REQUESTED, {}, now)


async def list_route_targets(session: AsyncSession, case: Case) -> list[Team]:
    """Teams a case can be sent to: every active team but its own."""
    teams = (
        await session.exec(
            select(Team)
            .where(col(Team.active).is_(True), Team.id != case.team_id)
            .order_by(col(Team.is_dispatcher).desc(), col(Team.id))
        )
    ).all()
    return list(teams)


async def _target_team(session: AsyncSession, case: Case, team_id: int) -> Team:
    team = await session.get(Team, team_id)
    if team is None or not team.active:
        raise NotFound("该监督组不存在或已停用。", detail=f"team {team_id} unusable")
    if team.id == case.team_id:
        raise InvalidInput("问题已在该组，请选择其他监督组。")
    return team


async def transfer_case(
    session: AsyncSession,
    actor: Inspector,
    case_id: int,
    team_id: int,
    reason: str,
    now: datetime,
) -> ApprovalRequest:
    """转办: the assignee asks, with a reason, to hand the case to another team; the team
    leader approves or refuses."""
    case = await load_case(session, case_id)
    require_assignee(actor, case, TRANSFERABLE, "转办")
    assert case.id is not None and actor.id is not None
    target = await _target_team(session, case, team_id)
    if target.is_dispatcher:
        raise InvalidInput("退回信访室请选择“退回”。")
    text = clean_note(reason, "转办理由")
    if await _pending(session, case.id, (RequestKind.RETURN, RequestKind.TRANSFER)):
        raise InvalidInput("该问题已有待组长审批的退回或转办申请，请等待审批结果。")
    request = ApprovalRequest(
        case_id=case.id,
        kind=RequestKind.TRANSFER,
        requested_by_id=actor.id,
        reason=text,
        target_team_id=target.id,
        created_at=now,
    )
    return await _file_request(
        session,
        case,
        actor,
        request,
        EventKind.TRANSFER_REQUESTED,
        {"team": target.code},
        now,
        target=target.name,
    )


async def _send_to_team(
    session: AsyncSession,
    case: Case,
    team: Team,
    config: LiankaConfig,
    calendar: WorkCalendar,
    now: datetime,
    actor: Actor,
) -> Inspector | None:
    """The case joins ``team`` as if routed there: a fresh 签收 clock, then auto-assignment or
    the team leaders' queue."""
    data = {"team": team.code, "rule": None, "by": "hand"}
    if case.status is CaseStatus.RETURNED:
        event = transition(case, CaseStatus.SUBMITTED, EventKind.ROUTED, actor, now, data=data)
    else:
        event = record_event(case, EventKind.ROUTED, actor, now, data=data)
    case.team_id = team.id
    case.routed_by = "人工分办"
    case.assignee_id = None
    session.add_all([case, event])
    await start_ladder_clock(session, case, ClockKind.ACCEPT, config, calendar, now)
    await session.flush()
    reason = "人工分办转来，请分派。" if team.assignment is AssignmentMode.LEADER else None
    return await place_case(session, case, team, config, calendar, now, actor, reason=reason)


async def _leave_team(session: AsyncSession, case: Case, now: datetime) -> None:
    """The case leaves its team for good: its 签收 and 办结 clocks stop and it is no longer
    accepted; the new team starts over (and an appeal's reporter hears when it accepts)."""
    assert case.id is not None
    case.accepted_at = None
    await cancel_clock(session, case.id, ClockKind.ACCEPT)
    await cancel_clock(session, case.id, ClockKind.RESOLVE)
    await _cancel_pending(session, case.id, now, "问题已离开本组")


# --- the team leader's decisions ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decision:
    """What the leader decided, for the reply."""

    request: ApprovalRequest
    case: Case
    team: Team | None = None  # where an approved return or transfer went
    assignee: Inspector | None = None
    resolve_due_at: datetime | None = None


async def load_request(
    session: AsyncSession, actor: Inspector, request_id: int
) -> tuple[ApprovalRequest, Case]:
    """A pending request and its case, for the team leader of the case's team only."""
    request = await session.get(ApprovalRequest, request_id, populate_existing=True)
    if request is None:
        raise NotFound("未找到该申请，此操作已失效。", detail=f"request {request_id} not found")
    case = await load_case(session, request.case_id)
    require_team_leader(actor, case)
    if request.status is not RequestStatus.PENDING:
        raise StaleAction(
            f"该申请已处理（{request.status.label}）。", detail=f"request {request_id} decided"
        )
    if case.assignee_id != request.requested_by_id:
        raise StaleAction("该问题已改派，此申请已失效。", detail="requester no longer assignee")
    return request, case


async def decide_request(
    session: AsyncSession,
    actor: Inspector,
    request_id: int,
    approve: bool,
    config: LiankaConfig,
    calendar: WorkCalendar,
    now: datetime,
    *,
    team_id: int | None = None,
) -> Decision:
    """The team leader approves or refuses a request. An approved extension moves the 办结
    deadline (the appeal reporter is told); an approved return sends the case to the dispatcher
    (or straight to the team the leader picks); an approved transfer sends it to the team asked
    for. Either way the requester is told."""
    request, case = await load_request(session, actor, request_id)
    assert case.id is not None
    if team_id and not (approve and request.kind is RequestKind.RETURN):
        raise StaleAction(detail=f"request {request_id}: a team only goes with an approved return")
    who = actor_of(actor)
    requester = await session.get(Inspector, request.requested_by_id)
    assert requester is not None
    request.decided_by_id = actor.id
    request.decided_at = now
    if not approve:
        request.status = RequestStatus.REFUSED
        refused = {
            RequestKind.EXTENSION: EventKind.EXTENSION_REFUSED,
            RequestKind.RETURN: EventKind.RETURN_REFUSED,
            RequestKind.TRANSFER: EventKind.TRANSFER_REFUSED,
        }[request.kind]
        event = record_event(case, refused, who, now, data={"request": request.id})
        session.add_all([request, case, event])
        await _tell_inspectors(
            session,
            case,
            [requester],
            "inspector_request_decided",
            event.seq,
            now,
            offer=Offer.CASE_WORK.on(case.id),
            request=request,
            approved=False,
            team=None,
            resolve_due=None,
        )
        await session.commit()
        return Decision(request, case)
    request.status = RequestStatus.APPROVED
    session.add(request)
    if request.kind is RequestKind.EXTENSION:
        return await _approve_extension(
            session, request, case, requester, who, calendar, config, now
        )
    if request.kind is RequestKind.RETURN:
        return await _approve_return(
            session, request, case, requester, who, team_id, config, calendar, now
        )
    return await _approve_transfer(session, request, case, requester, who, config, calendar, now)


async def _approve_extension(
    session: AsyncSession,
    request: ApprovalRequest,
    case: Case,
    requester: Inspector,
    who: Actor,
    calendar: WorkCalendar,
    config: LiankaConfig,
    now: datetime,
) -> Decision:
    assert case.id is not None and request.days is not None
    if case.status not in WORKING_STATUSES:
        raise _moved_on(case, "延期")
    clock = await extend_clock(
        session,
        case.id,
        ClockKind.RESOLVE,
        request.days,
        calendar,
        now,
        warn_before=config.deadlines.warn_before,
    )
    appeal = case.track is Track.APPEAL
    event = record_event(
        case,
        EventKind.EXTENSION_APPROVED,
        who,
        now,
        data={"request": request.id, "days": request.days, "due": clock.due_at.isoformat()},
        public=appeal,
    )
    session.add_all([case, event])
    if appeal:
        await _tell_reporter(
            session,
            case,
            "case_extended",
            event.seq,
            now,
            days=request.days,
            resolve_due=clock.due_at,
            provisional=clock.provisional,
        )
    await _tell_inspectors(
        session,
        case,
        [requester],
        "inspector_request_decided",
        event.seq,
        now,
        offer=Offer.CASE_WORK.on(case.id),
        request=request,
        approved=True,
        team=None,
        resolve_due=clock.due_at,
    )
    await session.commit()
    return Decision(request, case, resolve_due_at=clock.due_at)


async def _dispatcher(session: AsyncSession) -> Team:
    team = (await session.exec(select(Team).where(col(Team.is_dispatcher).is_(True)))).first()
    assert team is not None, "the catalog always has a dispatcher team"
    return team


async def _approve_return(
    session: AsyncSession,
    request: ApprovalRequest,
    case: Case,
    requester: Inspector,
    who: Actor,
    team_id: int | None,
    config: LiankaConfig,
    calendar: WorkCalendar,
    now: datetime,
) -> Decision:
    assert case.id is not None
    if case.status not in RETURNABLE:
        raise _moved_on(case, "退回")
    dispatcher = await _dispatcher(session)
    target = dispatcher if not team_id else await _target_team(session, case, team_id)
    request.target_team_id = target.id
    was_accepted = case.accepted_at is not None
    event = transition(
        case,
        CaseStatus.RETURNED,
        EventKind.RETURN_APPROVED,
        who,
        now,
        note=request.reason,
        data={"request": request.id, "team": target.code},
    )
    case.assignee_id = None
    session.add_all([case, event])
    await _leave_team(session, case, now)
    await session.flush()
    assignee = None
    if target.is_dispatcher:
        case.team_id = target.id
        session.add(case)
        await _tell_inspectors(
            session,
            case,
            await team_leaders(session, target.id, track=case.track),
            "leader_case_returned",
            event.seq,
            now,
            offer=Offer.LEADER_ASSIGN.on(case.id),
            team=await _team_name(session, requester.team_id),
            reason=request.reason,
            description=preview(case.description, 300),
        )
    else:
        assignee = await _send_to_team(session, case, target, config, calendar, now, who)
    await _tell_inspectors(
        session,
        case,
        [requester],
        "inspector_request_decided",
        event.seq,
        now,
        request=request,
        approved=True,
        team=target.name,
        resolve_due=None,
    )
    if was_accepted and case.track is Track.APPEAL:
        await _tell_reporter(session, case, "case_transferred", event.seq, now)
    await session.commit()
    return Decision(request, case, team=target, assignee=assignee)


async def _approve_transfer(
    session: AsyncSession,
    request: ApprovalRequest,
    case: Case,
    requester: Inspector,
    who: Actor,
    config: LiankaConfig,
    calendar: WorkCalendar,
    now: datetime,
) -> Decision:
    assert case.id is not None and request.target_team_id is not None
    if case.status not in TRANSFERABLE:
        raise _moved_on(case, "转办")
    target = await _target_team(session, case, request.target_team_id)
    was_accepted = case.accepted_at is not None
    source = await _team_name(session, case.team_id)
    event = transition(
        case,
        CaseStatus.SUBMITTED,
        EventKind.TRANSFERRED,
        who,
        now,
        note=request.reason,
        data={"request": request.id, "team": target.code},
    )
    case.assignee_id = None
    session.add_all([case, event])
    await _leave_team(session, case, now)
    await session.flush()
    assignee = await _send_to_team(session, case, target, config, calendar, now, who)
    await _tell_inspectors(
        session,
        case,
        [requester],
        "inspector_request_decided",
        event.seq,
        now,
        request=request,
        approved=True,
        team=target.name,
        resolve_due=None,
    )
    if was_accepted and case.track is Track.APPEAL:
        await _tell_reporter(session, case, "case_transferred", event.seq, now)
    logger.info("case %s transferred from %s", case.id, source)
    await session.commit()
    return Decision(request, case, team=target, assignee=assignee)


# --- routing and assignment by hand ------------------------------------------------------------


async def list_assignable(session: AsyncSession, case: Case) -> list[Inspector]:
    """The case's team's active inspectors and team leaders, bound to Telegram."""
    if case.team_id is None:
        return []
    return await list_team_members(session, case.team_id)


@dataclass(frozen=True, slots=True)
class AssignOptions:
    """Whom the case can go to: members of its team, and teams if the actor may route it."""

    case: Case
    members: list[Inspector]
    teams: list[Team]
    loads: dict[int, int]


async def assignment_options(
    session: AsyncSession, actor: Inspector, case_id: int
) -> AssignOptions:
    """Before the 分派 list is shown: the team's leader (or an admin) gets the members; the
    dispatcher's leader and admins also get the teams to route to."""
    case = await load_case(session, case_id)
    routable = may_route(actor, case, await _dispatcher(session))
    if not (leads_team(actor, case) or routable):
        raise PermissionDenied(
            "只有本组组长可以分派。",
            detail=f"case {case.id}: inspector {actor.id} may not assign",
        )
    if case.status not in ASSIGNABLE:
        raise _moved_on(case, "分派")
    members = await list_assignable(session, case) if leads_team(actor, case) else []
    teams = await list_route_targets(session, case) if routable else []
    loads = await open_case_counts(session, [m.id for m in members if m.id is not None])
    return AssignOptions(case, members, teams, loads)


@dataclass(frozen=True, slots=True)
class Reassigned:
    case: Case
    inspector: Inspector
    previous: Inspector | None


async def reassign_case(
    session: AsyncSession,
    actor: Inspector,
    case_id: int,
    inspector_id: int,
    config: LiankaConfig,
    calendar: WorkCalendar,
    now: datetime,
) -> Reassigned:
    """分派 / 改派: the team leader gives the case to an active member of the case's team; the
    new assignee gets the assignment message, the previous one is told and their pending
    requests on it are withdrawn."""
    case = await load_case(session, case_id)
    require_team_leader(actor, case)
    if case.status not in ASSIGNABLE:
        raise _moved_on(case, "分派")
    assert case.id is not None
    target = await session.get(Inspector, inspector_id)
    if (
        target is None
        or not target.active
        or target.team_id != case.team_id
        or target.role not in TEAM_ROLES
        or target.chat_id is None
    ):
        raise InvalidInput(
            "该人员不是本组在岗人员，不能分派。", detail=f"inspector {inspector_id} unusable"
        )
    if target.id == case.assignee_id:
        raise InvalidInput(f"该问题已由{target.name}承办。")
    previous = await session.get(Inspector, case.assignee_id) if case.assignee_id else None
    if previous is not None:
        await _cancel_pending(session, case.id, now, "问题已改派", requester=previous.id)
    await assign_case(session, case, target, config, calendar, now, actor_of(actor))
    if previous is not None:
        await _tell_inspectors(
            session,
            case,
            [previous],
            "inspector_unassigned",
            case.event_count,
            now,
            team=None,
        )
    await session.commit()
    return Reassigned(case, target, previous)


@dataclass(frozen=True, slots=True)
class Rerouted:
    case: Case
    team: Team
    assignee: Inspector | None


def may_route(actor: Inspector, case: Case, dispatcher: Team) -> bool:
    """Admins re-route any open appeal; the dispatcher's leaders route what waits with them
    (a clue is seen only by its team leader and assignee, so admins do not route clues)."""
    if actor.role is Role.ADMIN:
        return case.track is Track.APPEAL
    return (
        actor.role is Role.TEAM_LEADER
        and actor.team_id == dispatcher.id
        and case.team_id == dispatcher.id
        and case.status in (CaseStatus.SUBMITTED, CaseStatus.RETURNED)
    )


async def check_route(session: AsyncSession, actor: Inspector, case_id: int) -> Case:
    """Before the team list is shown: the same checks ``reroute_case`` makes."""
    case = await load_case(session, case_id)
    if not may_route(actor, case, await _dispatcher(session)):
        raise PermissionDenied(
            "只有信访室组长或管理员可以分办。",
            detail=f"case {case.id}: inspector {actor.id} may not route",
        )
    if case.status not in ASSIGNABLE - {CaseStatus.REOPENED}:
        raise _moved_on(case, "分办")
    return case


async def reroute_case(
    session: AsyncSession,
    actor: Inspector,
    case_id: int,
    team_id: int,
    config: LiankaConfig,
    calendar: WorkCalendar,
    now: datetime,
) -> Rerouted:
    """分办 by hand: the dispatcher's leader (or an admin, for any open case) sends the case to
    a team; a case already being worked elsewhere is taken from its assignee (转办)."""
    case = await check_route(session, actor, case_id)
    assert case.id is not None
    target = await _target_team(session, case, team_id)
    who = actor_of(actor)
    previous = await session.get(Inspector, case.assignee_id) if case.assignee_id else None
    was_accepted = case.accepted_at is not None
    if case.status in TRANSFERABLE:
        session.add(
            transition(
                case,
                CaseStatus.SUBMITTED,
                EventKind.TRANSFERRED,
                who,
                now,
                data={"team": target.code, "by": "admin"},
            )
        )
        await _leave_team(session, case, now)
    await session.flush()
    assignee = await _send_to_team(session, case, target, config, calendar, now, who)
    if previous is not None:
        await _tell_inspectors(
            session,
            case,
            [previous],
            "inspector_unassigned",
            case.event_count,
            now,
            team=target.name,
        )
    if was_accepted and case.track is Track.APPEAL:
        await _tell_reporter(session, case, "case_transferred", case.event_count, now)
    await session.commit()
    return Rerouted(case, target, assignee)


# --- 督办 ----------------------------------------------------------------------------------------


async def supervise_case(
    session: AsyncSession, actor: Inspector, case_id: int, now: datetime, note: str | None = None
) -> Case:
    """督办: a leader flags an open case; its team leaders and assignee are told, and every list
    and message shows 【督办】 from then on."""
    case = await load_case(session, case_id)
    if actor.role is not Role.LEADER:
        raise PermissionDenied(
            "只有委领导可以督办。", detail=f"inspector {actor.id} is not a leader"
        )
    if case.status not in OPEN_STATUSES:
        raise _moved_on(case, "督办")
    if case.supervised:
        raise InvalidInput(f"问题 {case.number} 已在督办中。")
    assert case.id is not None
    text = clean_note(note, "督办意见", 300) if note else None
    case.supervised = True
    case.supervised_at = now
    case.supervised_by_id = actor.id
    event = record_event(case, EventKind.SUPERVISED, actor_of(actor), now, note=text)
    session.add_all([case, event])
    people = await team_leaders(session, case.team_id, track=case.track)
    if case.assignee_id is not None:
        assignee = await session.get(Inspector, case.assignee_id)
        if assignee is not None:
            people.append(assignee)
    await _tell_inspectors(
        session,
        case,
        people,
        "inspector_supervised",
        event.seq,
        now,
        offer=Offer.LEADER_ASSIGN.on(case.id) if case.assignee_id is None else None,
        leader=actor.name,
        note=text,
        status=case.status.label,
        description=preview(case.description, 200),
    )
    await session.commit()
    return case


# --- the inspector's work ----------------------------------------------------------------------


async def add_progress(
    session: AsyncSession,
    actor: Inspector,
    case_id: int,
    note: str,
    public: bool,
    now: datetime,
) -> CaseEvent:
    """记录进展: a note in the history; the first one puts the case in progress. On an appeal
    the reporter sees the note if the inspector chooses, and always hears of the move to 办理中;
    a clue's notes stay internal."""
    case = await load_case(session, case_id)
    require_assignee(actor, case, WORKING_STATUSES, "记录进展")
    text = clean_note(note, "办理进展")
    appeal = case.track is Track.APPEAL
    public = public and appeal
    before = reporter_label(case.status, case.track)
    who = actor_of(actor)
    if case.status in (CaseStatus.ACCEPTED, CaseStatus.REOPENED):
        event = transition(
            case, CaseStatus.IN_PROGRESS, EventKind.PROGRESS, who, now, note=text, public=public
        )
    else:
        event = record_event(case, EventKind.PROGRESS, who, now, note=text, public=public)
    session.add_all([case, event])
    changed = before != reporter_label(case.status, case.track)
    if appeal and (public or changed):
        await _tell_reporter(
            session, case, "case_progress", event.seq, now, note=text if public else None
        )
    await session.commit()
    return event


async def ask_reporter(
    session: AsyncSession, actor: Inspector, case_id: int, question: str, now: datetime
) -> RelayMessage:
    """提问: the question goes to the reporter's chat (and anyone following the case) with a
    回复 button, and the 办结 clock waits until it is answered. Nobody sees anyone's account."""
    case = await load_case(session, case_id)
    require_assignee(actor, case, WORKING_STATUSES, "提问")
    assert case.id is not None and actor.id is not None
    text = clean_note(question, "问题")
    if not await _reporters(session, case):
        raise InvalidInput("反映人未通过本系统留下联系渠道，无法转达提问。")
    relay = RelayMessage(case_id=case.id, inspector_id=actor.id, question=text, asked_at=now)
    session.add(relay)
    await session.flush()
    assert relay.id is not None
    event = record_event(
        case, EventKind.QUESTION, actor_of(actor), now, note=text, data={"relay": relay.id}
    )
    session.add_all([case, event])
    await pause_clock(session, case.id, ClockKind.RESOLVE, now)
    await _tell_reporter(
        session,
        case,
        "case_question",
        event.seq,
        now,
        offer=Offer.RELAY_REPLY.on(relay.id),
        question=text,
    )
    await session.commit()
    return relay


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
    if case.reporter_id == reporter.id:
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
    answer: str,
    config: LiankaConfig,
    calendar: WorkCalendar,
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
        Actor(ActorType.REPORTER, reporter.id),
        now,
        note=text,
        data={"relay": relay.id},
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
            calendar,
            now,
            warn_before=config.deadlines.warn_before,
        )
    await _tell_inspectors(
        session,
        case,
        await _answer_recipients(session, case),
        "inspector_answer",
        event.seq,
        now,
        offer=Offer.CASE_WORK.on(case.id),
        question=relay.question,
        answer=text,
        resolve_due=resolve.due_at if resolve and resolve.state is ClockState.RUNNING else None,
    )
    await session.commit()
    return relay


async def request_extension(
    session: AsyncSession,
    actor: Inspector,
    case_id: int,
    days: int,
    reason: str,
    now: datetime,
) -> ApprovalRequest:
    """申请延期: N working days with a reason, asked before the 办结 deadline; the team leader
    approves or refuses."""
    case = await load_case(session, case_id)
    require_assignee(actor, case, WORKING_STATUSES, "申请延期")
    assert case.id is not None and actor.id is not None
    if not 1 <= days <= EXTENSION_MAX_DAYS:
        raise InvalidInput(f"延期天数应为1至{EXTENSION_MAX_DAYS}个工作日。")
    text = clean_note(reason, "延期理由")
    clock = await get_clock(session, case.id, ClockKind.RESOLVE)
    if clock is None or clock.state not in (ClockState.RUNNING, ClockState.PAUSED):
        raise _moved_on(case, "申请延期")
    if clock.due_at <= now or clock.stage >= ClockStage.OVERDUE:
        raise InvalidInput("办结期限已过，不能再申请延期，请尽快办结或向组长说明情况。")
    if await _pending(session, case.id, (RequestKind.EXTENSION,)):
        raise InvalidInput("该问题已有待组长审批的延期申请，请等待审批结果。")
    request = ApprovalRequest(
        case_id=case.id,
        kind=RequestKind.EXTENSION,
        requested_by_id=actor.id,
        reason=text,
        clock=ClockKind.RESOLVE,
        days=days,
        created_at=now,
    )
    return await _file_request(
        session, case, actor, request, EventKind.EXTENSION_REQUESTED, {"days": days}, now
    )


async def resolve_case(
    session: AsyncSession,
    actor: Inspector,
    case_id: int,
    outcome: Outcome,
    summary: str,
    amount_yuan: int | None,
    config: LiankaConfig,
    calendar: WorkCalendar,
    now: datetime,
) -> Case:
    """办结: the outcome, a summary and the amount coordinated (元); the 办结 clock is met and the
    回访 clock starts. An appeal reporter gets the outcome and summary, a clue reporter a short
    已办结 only. Questions still open and requests still pending lapse."""
    case = await load_case(session, case_id)
    require_assignee(actor, case, WORKING_STATUSES, "办结")
    assert case.id is not None
    text = clean_note(summary, "办结情况")
    if amount_yuan is not None and not 0 <= amount_yuan <= AMOUNT_MAX_YUAN:
        raise InvalidInput("金额超出范围，请核对后重新输入。")
    appeal = case.track is Track.APPEAL
    event = transition(
        case,
        CaseStatus.RESOLVED,
        EventKind.RESOLVED,
        actor_of(actor),
        now,
        note=text,
        data={"outcome": outcome.value, "amount_yuan": amount_yuan},
        public=True,
    )
    case.outcome = outcome
    case.outcome_summary = text
    case.amount_coordinated_yuan = amount_yuan
    case.resolved_at = now
    session.add_all([case, event])
    await meet_clock(session, case.id, ClockKind.RESOLVE, now)
    await start_ladder_clock(session, case, ClockKind.FOLLOWUP, config, calendar, now)
    for relay in (
        await session.exec(
            select(RelayMessage).where(
                RelayMessage.case_id == case.id, RelayMessage.status == RelayStatus.OPEN
            )
        )
    ).all():
        relay.status = RelayStatus.CANCELLED
        session.add(relay)
    await _cancel_pending(session, case.id, now, "问题已办结")
    await _tell_reporter(
        session,
        case,
        "case_resolved",
        event.seq,
        now,
        appeal=appeal,
        outcome=outcome.label,
        summary=text if appeal else None,
        amount=amount_yuan if appeal else None,
    )
    await session.commit()
    return case


# --- 查看材料 ------------------------------------------------------------------------------------


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


async def view_materials(
    session: AsyncSession, actor: Inspector, case_id: int, now: datetime
) -> Materials:
    """查看材料: the description and evidence for those who may see the case; a named appeal's
    contact too, and each time it is shown an IDENTITY_VIEWED event records who saw it."""
    case = await load_case(session, case_id)
    require_view(actor, case)
    assert case.id is not None
    category = await session.get(Category, case.category_id)
    zone = await session.get(Zone, case.zone_id) if case.zone_id else None
    clue = case.track is Track.CLUE
    enterprise = None
    if not clue and case.enterprise_id is not None:
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
    if clue:
        reporter_line = "问题线索，反映人信息保密"
    elif case.anonymous:
        reporter_line = "匿名"
    else:
        row_contact = await session.get(ReporterContact, case.id)
        reporter_line = "实名"
        if row_contact is not None:
            contact = Contact(row_contact.name, row_contact.phone)
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
    )
