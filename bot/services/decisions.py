"""The team leader's decisions on 退回, 转办 and 延期 requests, and on a clue's 撤回."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.assignment import leave_team, send_to_team
from bot.services.clocks import extend_clock, start_ladder_clock
from bot.services.followup import ReopenLapsed, decide_reopen
from bot.services.inspectors import request_deciders, team_leaders
from bot.services.notices import team_name, tell_inspectors, tell_reporter
from bot.services.permissions import (
    actor_of,
    load_case,
    moved_on,
)
from bot.services.policy import Policy
from bot.services.requests import cancel_pending, check_extension_cap
from bot.services.resolution import approve_resolution
from bot.services.routing import dispatcher_team, target_team
from bot.services.withdrawal import decide_withdrawal, withdrawable
from models.case import RETURNABLE, TRANSFERABLE, WORKING_STATUSES, Case, CaseStatus
from models.clock import ClockKind
from models.errors import NotFound, PermissionDenied, StaleAction
from models.event import Actor, ActorType, EventKind, record_event, transition
from models.notification import Offer, work_offer
from models.org import Track
from models.request import ApprovalRequest, RequestKind, RequestStatus
from models.team import Inspector, Team
from notifications.texts import preview, request_params

logger = logging.getLogger(__name__)


def _stand_in(who: Actor) -> dict[str, bool]:
    """An admin decides only standing in for a team with no other leader (``deciders``): the
    event says so, for the audit trail."""
    return {"stand_in": True} if who.type is ActorType.ADMIN else {}


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
    """A pending request and its case, for those who decide it (``deciders``) only."""
    request = await session.get(ApprovalRequest, request_id, populate_existing=True)
    if request is None:
        raise NotFound("未找到该申请，此操作已失效。", detail=f"request {request_id} not found")
    case = await load_case(session, request.case_id)
    if actor.id not in {p.id for p in await request_deciders(session, case, request)}:
        raise PermissionDenied(
            "是否再次重办由委领导决定。"
            if request.kind is RequestKind.REOPEN
            else "只有本组组长可以审批此申请，且不能审批自己的申请。",
            detail=f"request {request_id}: inspector {actor.id} may not decide it",
        )
    if request.status is not RequestStatus.PENDING:
        raise StaleAction(
            f"该申请已处理（{request.status.label}）。", detail=f"request {request_id} decided"
        )
    if not request.kind.by_reporter and case.assignee_id != request.requested_by_id:
        raise StaleAction("该问题已改派，此申请已失效。", detail="requester no longer assignee")
    return request, case


async def decide_request(
    session: AsyncSession,
    actor: Inspector,
    request_id: int,
    *,
    approve: bool,
    policy: Policy,
    now: datetime,
    team_id: int | None = None,
) -> Decision:
    """The team leader approves or refuses a request (nobody their own: ``deciders``). An
    approved extension moves the 办结 deadline (the appeal reporter is told), within the case's
    cap (``[limits]``: refused, nothing changed, past it); an approved return sends the case to
    the dispatcher (or straight to the team the leader picks); an approved transfer sends it to
    the team asked for. Either way the requester is told. An admin deciding stands in for a
    team with no other leader (``deciders``): its events say ``"stand_in": true``."""
    request, case = await load_request(session, actor, request_id)
    assert case.id is not None
    if team_id and not (approve and request.kind is RequestKind.RETURN):
        raise StaleAction(detail=f"request {request_id}: a team only goes with an approved return")
    who = actor_of(actor)
    assert actor.id is not None
    if request.kind is RequestKind.WITHDRAWAL:  # a clue's 撤回 by receipt code
        if approve and not withdrawable(case):
            raise moved_on(case, "撤回")
        request.decide(by=actor.id, approve=approve, at=now)
        await decide_withdrawal(session, request, case, who=who, approve=approve, now=now)
        return Decision(request, case)
    if request.kind is RequestKind.REOPEN:  # 不满意 past the 重办 limit, for the 委领导
        if case.status is not CaseStatus.RESOLVED:  # moved on meanwhile: the request lapses
            await cancel_pending(session, case.id, now=now, why="问题已不在待决定状态")
            await session.commit()
            raise ReopenLapsed(detail=f"request {request_id}: case {case.id} is {case.status}")
        request.decide(by=actor.id, approve=approve, at=now)
        reopened = await decide_reopen(
            session, request, case, who=who, approve=approve, policy=policy, now=now
        )
        return Decision(request, case, resolve_due_at=reopened.due_at if reopened else None)
    requester = await session.get(Inspector, request.requested_by_id)
    assert requester is not None
    assert actor.id is not None
    if approve and request.kind is RequestKind.EXTENSION and request.days is not None:
        await check_extension_cap(session, case.id, request.days, policy.config.limits)
    request.decide(by=actor.id, approve=approve, at=now)
    if not approve:
        refused = {
            RequestKind.EXTENSION: EventKind.EXTENSION_REFUSED,
            RequestKind.RETURN: EventKind.RETURN_REFUSED,
            RequestKind.TRANSFER: EventKind.TRANSFER_REFUSED,
            RequestKind.RESOLUTION: EventKind.RESOLUTION_RETURNED,
        }[request.kind]
        event = record_event(
            case, refused, who, now, data={"request": request.id, **_stand_in(who)}
        )
        session.add_all([request, case, event])
        await tell_inspectors(
            session,
            case,
            [requester],
            "inspector_request_decided",
            stage=event.seq,
            now=now,
            offer=work_offer(case.id, clue=case.track is Track.CLUE),
            request=request_params(request),
            stand_in=who.type is ActorType.ADMIN,
            approved=False,
            team=None,
            resolve_due=None,
        )
        await session.commit()
        return Decision(request, case)
    session.add(request)
    if request.kind is RequestKind.RESOLUTION:
        return await _approve_resolution(
            session, request, case, requester=requester, who=who, policy=policy, now=now
        )
    if request.kind is RequestKind.EXTENSION:
        return await _approve_extension(
            session, request, case, requester=requester, who=who, policy=policy, now=now
        )
    if request.kind is RequestKind.RETURN:
        return await _approve_return(
            session,
            request,
            case,
            requester=requester,
            who=who,
            team_id=team_id,
            policy=policy,
            now=now,
        )
    return await _approve_transfer(
        session, request, case, requester=requester, who=who, policy=policy, now=now
    )


async def _approve_resolution(
    session: AsyncSession,
    request: ApprovalRequest,
    case: Case,
    *,
    requester: Inspector,
    who: Actor,
    policy: Policy,
    now: datetime,
) -> Decision:
    """组长审核 passed: the case is resolved as proposed, the reporter told, the assignee too."""
    assert case.id is not None
    await approve_resolution(
        session, request, case, who=who, policy=policy, now=now, extra=_stand_in(who)
    )
    await tell_inspectors(
        session,
        case,
        [requester],
        "inspector_request_decided",
        stage=case.event_count,
        now=now,
        request=request_params(request),
        stand_in=who.type is ActorType.ADMIN,
        approved=True,
        team=None,
        resolve_due=None,
    )
    await session.commit()
    return Decision(request, case)


async def _approve_extension(
    session: AsyncSession,
    request: ApprovalRequest,
    case: Case,
    *,
    requester: Inspector,
    who: Actor,
    policy: Policy,
    now: datetime,
) -> Decision:
    assert case.id is not None and request.days is not None
    if case.status not in WORKING_STATUSES:
        raise moved_on(case, "延期")
    clock = await extend_clock(
        session,
        case.id,
        ClockKind.RESOLVE,
        workdays=request.days,
        calendar=policy.calendar,
        now=now,
        warn_before=policy.warn_before,
    )
    appeal = case.track is Track.APPEAL
    event = record_event(
        case,
        EventKind.EXTENSION_APPROVED,
        who,
        now,
        data={
            "request": request.id,
            "days": request.days,
            "due": clock.due_at.isoformat(),
            **_stand_in(who),
        },
        public=appeal,
    )
    session.add_all([case, event])
    if appeal:
        await tell_reporter(
            session,
            case,
            "case_extended",
            stage=event.seq,
            now=now,
            days=request.days,
            resolve_due=clock.due_at,
            provisional=clock.provisional,
        )
    await tell_inspectors(
        session,
        case,
        [requester],
        "inspector_request_decided",
        stage=event.seq,
        now=now,
        offer=work_offer(case.id, clue=case.track is Track.CLUE),
        request=request_params(request),
        stand_in=who.type is ActorType.ADMIN,
        approved=True,
        team=None,
        resolve_due=clock.due_at,
    )
    await session.commit()
    return Decision(request, case, resolve_due_at=clock.due_at)


async def _leave_for(
    session: AsyncSession,
    request: ApprovalRequest,
    case: Case,
    *,
    status: CaseStatus,
    kind: EventKind,
    target: Team,
    who: Actor,
    now: datetime,
) -> int:
    """The case leaves its assignee and team for ``target`` (退回 or 转办 approved); returns
    the event's sequence number, the stage of the notices it causes."""
    request.target_team_id = target.id
    event = transition(
        case,
        status,
        kind,
        who,
        now,
        note=request.reason,
        data={"request": request.id, "team": target.code, **_stand_in(who)},
    )
    case.assignee_id = None
    session.add_all([case, event])
    await leave_team(session, case, now)
    await session.flush()
    return event.seq


async def _tell_handed_over(
    session: AsyncSession,
    request: ApprovalRequest,
    case: Case,
    *,
    requester: Inspector,
    target: Team,
    was_accepted: bool,
    stage: int,
    now: datetime,
    stand_in: bool,
) -> None:
    """The requester learns the case went to ``target`` (from an admin standing in for the
    组长: ``stand_in``); an appeal's reporter, once told it was
    accepted, learns it changed hands."""
    await tell_inspectors(
        session,
        case,
        [requester],
        "inspector_request_decided",
        stage=stage,
        now=now,
        request=request_params(request),
        stand_in=stand_in,
        approved=True,
        team=target.name,
        resolve_due=None,
    )
    if was_accepted and case.track is Track.APPEAL:
        await tell_reporter(
            session, case, "case_transferred", stage=stage, now=now, team=target.name
        )


async def _approve_return(
    session: AsyncSession,
    request: ApprovalRequest,
    case: Case,
    *,
    requester: Inspector,
    who: Actor,
    team_id: int | None,
    policy: Policy,
    now: datetime,
) -> Decision:
    assert case.id is not None
    if case.status not in RETURNABLE:
        raise moved_on(case, "退回")
    dispatcher = await dispatcher_team(session)
    target = dispatcher if not team_id else await target_team(session, case, team_id)
    was_accepted = case.accepted_at is not None
    stage = await _leave_for(
        session,
        request,
        case,
        status=CaseStatus.RETURNED,
        kind=EventKind.RETURN_APPROVED,
        target=target,
        who=who,
        now=now,
    )
    assignee = None
    if target.is_dispatcher:
        case.team_id = target.id
        session.add(case)
        # waiting for 分办 as a case no rule routed does: on a 签收 clock, so it is chased
        await start_ladder_clock(
            session, case, ClockKind.ACCEPT, config=policy.config, calendar=policy.calendar, now=now
        )
        await tell_inspectors(
            session,
            case,
            await team_leaders(session, target.id, track=case.track),
            "leader_case_returned",
            stage=stage,
            now=now,
            offer=Offer.LEADER_ASSIGN.on(case.id),
            team=await team_name(session, requester.team_id),
            reason=request.reason,
            description=preview(case.description, 300),
        )
    else:
        assignee = await send_to_team(
            session, case, target, policy=policy, now=now, actor=who, stand_in=bool(_stand_in(who))
        )
    await _tell_handed_over(
        session,
        request,
        case,
        requester=requester,
        target=target,
        was_accepted=was_accepted,
        stage=stage,
        now=now,
        stand_in=bool(_stand_in(who)),
    )
    await session.commit()
    return Decision(request, case, team=target, assignee=assignee)


async def _approve_transfer(
    session: AsyncSession,
    request: ApprovalRequest,
    case: Case,
    *,
    requester: Inspector,
    who: Actor,
    policy: Policy,
    now: datetime,
) -> Decision:
    assert case.id is not None and request.target_team_id is not None
    if case.status not in TRANSFERABLE:
        raise moved_on(case, "转办")
    target = await target_team(session, case, request.target_team_id)
    was_accepted = case.accepted_at is not None
    source = await team_name(session, case.team_id)
    stage = await _leave_for(
        session,
        request,
        case,
        status=CaseStatus.SUBMITTED,
        kind=EventKind.TRANSFERRED,
        target=target,
        who=who,
        now=now,
    )
    assignee = await send_to_team(
        session, case, target, policy=policy, now=now, actor=who, stand_in=bool(_stand_in(who))
    )
    await _tell_handed_over(
        session,
        request,
        case,
        requester=requester,
        target=target,
        was_accepted=was_accepted,
        stage=stage,
        now=now,
        stand_in=bool(_stand_in(who)),
    )
    logger.info("case %s transferred from %s", case.id, source)
    await session.commit()
    return Decision(request, case, team=target, assignee=assignee)
