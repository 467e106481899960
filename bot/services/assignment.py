"""分办 and 分派 by hand: the dispatcher's leader sends a case to a team, a team leader gives
it to a member (改派), and a case moves between teams."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.assist import end_assists
from bot.services.clocks import cancel_clock, start_ladder_clock
from bot.services.clue_lapse import LAPSE_LEFT_TEAM, LAPSE_REASSIGNED, lapse_proposals
from bot.services.inspectors import TEAM_ROLES
from bot.services.notices import tell_inspectors, tell_reporter
from bot.services.permissions import (
    STAND_IN_REFUSED,
    actor_of,
    leads_team,
    load_case,
    moved_on,
    require_team_leader,
    stands_in,
)
from bot.services.policy import Policy
from bot.services.rectification import lapse_rectification
from bot.services.relay import cancel_open_questions
from bot.services.requests import cancel_pending
from bot.services.routing import (
    assign_case,
    dispatcher_team,
    list_route_targets,
    list_team_members,
    open_case_counts,
    place_case,
    target_team,
)
from models.case import ASSIGNABLE, TRANSFERABLE, Case, CaseStatus
from models.clock import ClockKind
from models.errors import InvalidInput, PermissionDenied
from models.event import Actor, EventKind, record_event, transition
from models.org import Track
from models.team import AssignmentMode, Inspector, Role, Team


async def send_to_team(
    session: AsyncSession,
    case: Case,
    team: Team,
    *,
    policy: Policy,
    now: datetime,
    actor: Actor,
    stand_in: bool = False,
) -> Inspector | None:
    """The case joins ``team`` as if routed there: a fresh 签收 clock, then auto-assignment or
    the team leaders' queue (an admin standing in for a leaderless team is recorded so)."""
    data: dict[str, object] = {"team": team.code, "rule": None, "by": "hand"}
    if stand_in:
        data["stand_in"] = True
    if case.status is CaseStatus.RETURNED:
        event = transition(case, CaseStatus.SUBMITTED, EventKind.ROUTED, actor, now, data=data)
    else:
        event = record_event(case, EventKind.ROUTED, actor, now, data=data)
    case.team_id = team.id
    case.routed_by = "人工分办"
    case.assignee_id = None
    session.add_all([case, event])
    await start_ladder_clock(
        session, case, ClockKind.ACCEPT, config=policy.config, calendar=policy.calendar, now=now
    )
    await session.flush()
    reason = "人工分办转来，请分派。" if team.assignment is AssignmentMode.LEADER else None
    return await place_case(session, case, team, policy=policy, now=now, actor=actor, reason=reason)


async def leave_team(session: AsyncSession, case: Case, now: datetime) -> None:
    """The case leaves its team for good: its 签收 and 办结 clocks stop, its questions to the
    reporter still open lapse, an open 整改 lapses, its
    协办 teams are released, and it is no longer accepted; the new team starts over (and an appeal's reporter hears when it
    accepts). A clue's disposition proposals still waiting lapse; an approved disposition stays
    in force and its 线索处置 clock runs on under the new team."""
    assert case.id is not None
    case.accepted_at = None
    await cancel_clock(session, case.id, ClockKind.ACCEPT)
    await cancel_clock(session, case.id, ClockKind.RESOLVE)
    await cancel_open_questions(session, case.id)  # else the new team's 办结 clock stays paused
    await cancel_pending(session, case.id, now=now, why="问题已离开本组")
    await lapse_proposals(session, case, why=LAPSE_LEFT_TEAM, now=now)
    await lapse_rectification(session, case, now, why="问题已离开本组")
    await end_assists(session, case, now)


async def list_assignable(session: AsyncSession, case: Case) -> list[Inspector]:
    """The case's team's active inspectors and team leaders (in Telegram or the console)."""
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
    routable = may_route(actor, case, await dispatcher_team(session))
    if not (leads_team(actor, case) or routable):
        raise PermissionDenied(
            "只有本组组长可以分派。",
            detail=f"case {case.id}: inspector {actor.id} may not assign",
        )
    if case.status not in ASSIGNABLE:
        raise moved_on(case, "分派")
    leader = leads_team(actor, case) and (
        actor.role is not Role.ADMIN or await stands_in(session, actor, case)
    )
    if not (leader or routable):
        raise PermissionDenied(STAND_IN_REFUSED, detail=f"case {case.id}: admin, team has a leader")
    members = await list_assignable(session, case) if leader else []
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
    *,
    inspector_id: int,
    policy: Policy,
    now: datetime,
) -> Reassigned:
    """分派 / 改派: the team leader gives the case to an active member of the case's team; the
    new assignee gets the assignment message, the previous one is told and their pending
    requests on it are withdrawn."""
    case = await load_case(session, case_id)
    stand_in = await require_team_leader(session, actor, case)
    if case.status not in ASSIGNABLE:
        raise moved_on(case, "分派")
    assert case.id is not None
    target = await session.get(Inspector, inspector_id)
    if (
        target is None
        or not target.active
        or target.team_id != case.team_id
        or target.role not in TEAM_ROLES
    ):
        raise InvalidInput(
            "该人员不是本组在岗人员，不能分派。", detail=f"inspector {inspector_id} unusable"
        )
    if target.id == case.assignee_id:
        raise InvalidInput(f"该问题已由{target.name}承办。")
    previous = await session.get(Inspector, case.assignee_id) if case.assignee_id else None
    if previous is not None:
        await cancel_pending(session, case.id, now=now, why="问题已改派", requester=previous.id)
        await lapse_proposals(
            session, case, why=LAPSE_REASSIGNED, now=now, actor=actor_of(actor),
            proposer_id=previous.id,
        )  # fmt: skip
    await assign_case(
        session,
        case,
        target,
        policy=policy,
        now=now,
        actor=actor_of(actor),
        stand_in=stand_in,
    )
    if previous is not None:
        await tell_inspectors(
            session,
            case,
            [previous],
            "inspector_unassigned",
            stage=case.event_count,
            now=now,
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
    """The dispatcher's leaders route what waits with them; admins re-route an open appeal
    when they stand in for its team (no active team leader: ``check_route`` asks; a clue is
    seen only by its team leader and assignee, so admins never route clues)."""
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
    if not may_route(actor, case, await dispatcher_team(session)):
        raise PermissionDenied(
            "只有信访室组长或管理员可以分办。",
            detail=f"case {case.id}: inspector {actor.id} may not route",
        )
    if actor.role is Role.ADMIN and not await stands_in(session, actor, case):
        raise PermissionDenied(
            STAND_IN_REFUSED, detail=f"case {case.id}: its team has a leader, admin refused"
        )
    if case.status not in ASSIGNABLE - {CaseStatus.REOPENED}:
        raise moved_on(case, "分办")
    return case


async def reroute_case(
    session: AsyncSession,
    actor: Inspector,
    case_id: int,
    *,
    team_id: int,
    policy: Policy,
    now: datetime,
) -> Rerouted:
    """分办 by hand: the dispatcher's leader (or an admin, for any open case) sends the case to
    a team; a case already being worked elsewhere is taken from its assignee (转办)."""
    case = await check_route(session, actor, case_id)
    assert case.id is not None
    target = await target_team(session, case, team_id)
    who = actor_of(actor)
    previous = await session.get(Inspector, case.assignee_id) if case.assignee_id else None
    was_accepted = case.accepted_at is not None
    if case.status not in TRANSFERABLE:  # waiting in 信访室: its 协办 end as it goes
        await end_assists(session, case, now)
    else:
        session.add(
            transition(
                case,
                CaseStatus.SUBMITTED,
                EventKind.TRANSFERRED,
                who,
                now,
                data={"team": target.code, "by": "admin", "stand_in": True},
            )
        )
        await leave_team(session, case, now)
    await session.flush()
    assignee = await send_to_team(
        session,
        case,
        target,
        policy=policy,
        now=now,
        actor=who,
        stand_in=actor.role is Role.ADMIN,
    )
    if previous is not None:
        await tell_inspectors(
            session,
            case,
            [previous],
            "inspector_unassigned",
            stage=case.event_count,
            now=now,
            team=target.name,
        )
    if was_accepted and case.track is Track.APPEAL:
        await tell_reporter(
            session, case, "case_transferred", stage=case.event_count, now=now, team=target.name
        )
    await session.commit()
    return Rerouted(case, target, assignee)
