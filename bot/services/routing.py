"""Routing and assignment: every case reaches a team, and inside it an inspector or the leader."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.case_notices import assigned_notice, waiting_notice
from bot.services.clocks import get_clock, start_ladder_clock
from bot.services.inspectors import team_leaders
from bot.services.policy import Policy
from models.attachment import Attachment
from models.case import OPEN_STATUSES, Case, CaseStatus
from models.clock import ClockKind
from models.enterprise import Enterprise
from models.errors import InvalidInput, NotFound
from models.event import SYSTEM, Actor, assign_to, route_to
from models.notification import Notice, Offer, work_offer
from models.org import Category, Track, Zone
from models.routing import Candidate, RoutingDecision, choose_team, pick_assignee
from models.team import AssignmentMode, Inspector, Role, Team
from notifications.outbox import active_admins, notify_inspectors
from notifications.texts import case_params


async def open_case_counts(session: AsyncSession, inspector_ids: list[int]) -> dict[int, int]:
    """Open cases per inspector, in one query."""
    if not inspector_ids:
        return {}
    rows = await session.exec(
        select(Case.assignee_id, func.count())
        .where(col(Case.assignee_id).in_(inspector_ids), col(Case.status).in_(OPEN_STATUSES))
        .group_by(col(Case.assignee_id))
    )
    return {int(assignee): int(count) for assignee, count in rows.all() if assignee is not None}


async def list_team_members(
    session: AsyncSession,
    team_id: int,
    roles: tuple[Role, ...] = (Role.INSPECTOR, Role.TEAM_LEADER),
) -> list[Inspector]:
    """The team's registered, active people with one of ``roles``."""
    return list(
        (
            await session.exec(
                select(Inspector)
                .where(
                    Inspector.team_id == team_id,
                    col(Inspector.active).is_(True),
                    col(Inspector.role).in_(roles),
                )
                .order_by(col(Inspector.id))
            )
        ).all()
    )


@dataclass
class Deciders:
    """Who decides for a team (``team_leaders``: its leaders, for an appeal the admins if it has
    none), looked up once in one submission: routing tells them a case waits, and the repeat
    check that follows tells the same people, in the same transaction, of the repeat."""

    found: dict[tuple[int | None, Track], list[Inspector]] = field(default_factory=dict)
    leaders: dict[int, list[Inspector]] = field(default_factory=dict)
    """A team's active leaders, read with its members (``place_case``): not read again."""

    async def of(self, session: AsyncSession, team_id: int | None, track: Track) -> list[Inspector]:
        key = (team_id, track)
        if key not in self.found:
            if team_id is not None and team_id in self.leaders:  # as ``team_leaders`` has it
                people = self.leaders[team_id]
                if not people and track is Track.APPEAL:
                    people = await active_admins(session)
                self.found[key] = list(people)
            else:
                self.found[key] = await team_leaders(session, team_id, track=track)
        return list(self.found[key])


async def _notify_assignee(
    session: AsyncSession, case: Case, inspector: Inspector, now: datetime
) -> None:
    """The assignment message with the case summary and the inspector's buttons."""
    assert case.id is not None and inspector.id is not None
    category = await session.get(Category, case.category_id)
    zone = await session.get(Zone, case.zone_id) if case.zone_id else None
    enterprise = await session.get(Enterprise, case.enterprise_id) if case.enterprise_id else None
    accept = await get_clock(session, case.id, ClockKind.ACCEPT)
    assert accept is not None
    attachments = len(
        (await session.exec(select(Attachment.id).where(Attachment.case_id == case.id))).all()
    )
    notice = assigned_notice(
        case,
        category=category.name if category else "",
        zone=zone.name if zone else None,
        enterprise=enterprise.name if enterprise else None,
        accept=accept,
        attachments=attachments,
    )
    await notify_inspectors(
        session,
        case.id,
        [inspector],
        kind="assigned",
        stage=case.event_count,
        notice=notice,
        now=now,
        offer=work_offer(case.id, clue=case.track is Track.CLUE),
    )


async def _notify_team_leaders(
    session: AsyncSession,
    case: Case,
    team: Team,
    now: datetime,
    reason: str | None,
    *,
    deciders: Deciders | None = None,
) -> None:
    """A case waits in the team's queue: its leaders (for an appeal, the admins if it has none)
    are told. A clue in a team without a leader: the admins are told that, and nothing of it
    (an appeal finding nobody found no admin either: there is nobody to tell)."""
    assert case.id is not None and team.id is not None
    leaders = await (deciders or Deciders()).of(session, team.id, case.track)
    if not leaders:
        if case.track is not Track.APPEAL:
            await _tell_admins_unattended(session, case, team, now)
        return
    category = await session.get(Category, case.category_id)
    zone = await session.get(Zone, case.zone_id) if case.zone_id else None
    accept = await get_clock(session, case.id, ClockKind.ACCEPT)
    assert accept is not None
    notice = waiting_notice(
        case,
        team=team.name,
        category=category.name if category else "",
        zone=zone.name if zone else None,
        reason=reason,
        accept=accept,
    )
    await notify_inspectors(
        session,
        case.id,
        leaders,
        kind="waiting",
        stage=case.event_count,
        notice=notice,
        now=now,
        offer=Offer.LEADER_ASSIGN.on(case.id),
    )


async def _tell_admins_unattended(
    session: AsyncSession, case: Case, team: Team, now: datetime
) -> None:
    """A clue reached a team with no active team leader: admins must register one; they learn
    the case number and the team, not the clue (only its team leader and assignee may see it)."""
    assert case.id is not None
    notice = Notice.of(
        "admin_clue_unattended",
        case=case_params(case),
        team={"name": team.name, "code": team.code},
    )
    await notify_inspectors(
        session,
        case.id,
        await active_admins(session),
        kind="clue_unattended",
        stage=case.event_count,
        notice=notice,
        now=now,
    )


async def assign_case(
    session: AsyncSession,
    case: Case,
    inspector: Inspector,
    *,
    policy: Policy,
    now: datetime,
    actor: Actor = SYSTEM,
    stand_in: bool = False,
) -> None:
    """Give the case to ``inspector``: they get the assignment message and a fresh 签收 clock
    (``stand_in``: an admin acting for a team with no leader). The caller commits."""
    assert case.id is not None and inspector.id is not None
    session.add(assign_to(case, inspector, actor, now, stand_in=stand_in))
    session.add_all([case, inspector])
    if case.status is CaseStatus.ASSIGNED:
        await start_ladder_clock(
            session, case, ClockKind.ACCEPT, config=policy.config, calendar=policy.calendar, now=now
        )
    await session.flush()
    await _notify_assignee(session, case, inspector, now)


RECUSED = "回避原承办组"
"""The routing rule a 防打击报复回访 clue records when its rule named the first case's team."""


FIRST_TEAM_REASON = "该线索涉及本组办理过的问题，请组长分派，勿交原承办人。"
"""Told to the leaders of the first case's team when a 防打击报复回访 clue reaches it anyway."""


def routed_reason(rule: str | None, recused_from: str) -> str | None:
    """What the team leaders asked to assign a routed case are told of how it came: no rule
    matched (信访室 routes it by hand), or a 防打击报复回访 clue kept from ``recused_from``, the
    team the routing rule named, which handled the first case."""
    if rule is None:
        return "未匹配分办规则，请信访室分办。"
    if rule == RECUSED:
        return f"该线索涉及{recused_from}办理过的问题，请信访室另行分办，勿交该组。"
    return None


async def prompting_case(session: AsyncSession, case: Case) -> Case | None:
    """The case whose 防打击报复回访 opened this clue, if it was opened so."""
    if case.prompted_by_id is None:
        return None
    return await session.get(Case, case.prompted_by_id)


async def route_case(
    session: AsyncSession,
    case: Case,
    *,
    policy: Policy,
    now: datetime,
    actor: Actor = SYSTEM,
    new: bool = False,
    deciders: Deciders | None = None,
) -> Team:
    """Send the case to the team the first matching rule names (else the dispatcher; a report
    made without a card always goes to the dispatcher) and, if the team assigns automatically, to
    its least-loaded active inspector. A 防打击报复回访 clue whose rule names the team that
    handled the first case goes to the dispatcher instead (``RECUSED``). ``new``: the case was
    created in this transaction (its 签收 clock is not looked up). ``deciders``: the team leaders
    looked up so far in the caller's transaction. The caller commits."""
    assert case.id is not None
    category = await session.get(Category, case.category_id)
    assert category is not None
    zone = await session.get(Zone, case.zone_id) if case.zone_id else None
    teams = {t.code: t for t in (await session.exec(select(Team))).all()}
    if case.card_id is None:
        # reported without a card (organisation.allow_start_without_card): 信访室 routes by hand
        decision = RoutingDecision(policy.config.dispatcher.code, None)
    else:
        decision = choose_team(
            policy.config.routing,
            category_code=category.code,
            zone_code=zone.code if zone else None,
            description=case.description,
            dispatcher_code=policy.config.dispatcher.code,
            inactive_teams=frozenset(code for code, t in teams.items() if not t.active),
        )
    team = teams[decision.team_code]
    first = await prompting_case(session, case)
    recused_from = team.name
    if first is not None and team.id == first.team_id and not team.is_dispatcher:
        # a 防打击报复回访 clue never goes back to the team that handled the first case
        decision = RoutingDecision(policy.config.dispatcher.code, RECUSED)
        team = teams[decision.team_code]
    session.add(route_to(case, team, rule=decision.rule, actor=actor, now=now))
    await start_ladder_clock(
        session,
        case,
        ClockKind.ACCEPT,
        config=policy.config,
        calendar=policy.calendar,
        now=now,
        new=new,
    )
    await session.flush()
    reason = routed_reason(decision.rule, recused_from)
    await place_case(
        session,
        case,
        team,
        policy=policy,
        now=now,
        actor=actor,
        reason=reason,
        deciders=deciders,
    )
    return team


async def place_case(
    session: AsyncSession,
    case: Case,
    team: Team,
    *,
    policy: Policy,
    now: datetime,
    actor: Actor = SYSTEM,
    reason: str | None = None,
    deciders: Deciders | None = None,
) -> Inspector | None:
    """A case has reached ``team``: if the team assigns automatically, its least-loaded active
    inspector gets it; otherwise (or with nobody on duty) its leaders are asked to assign.
    Returns the assignee, if any. A 防打击报复回访 clue (``prompting_case``) is never given
    automatically to the first case's assignee, nor at all in the first case's team: there its
    leader assigns it by hand. The caller commits."""
    first = await prompting_case(session, case)
    recused = first.assignee_id if first is not None else None
    deciders = deciders if deciders is not None else Deciders()
    if first is not None and first.team_id == team.id:
        reason = FIRST_TEAM_REASON
    elif team.assignment is AssignmentMode.AUTO and not team.is_dispatcher:
        assert team.id is not None
        people = await list_team_members(session, team.id)  # its leaders too: one read
        deciders.leaders[team.id] = [p for p in people if p.role is Role.TEAM_LEADER]
        members = [m for m in people if m.role is Role.INSPECTOR and m.id != recused]
        counts = await open_case_counts(session, [m.id for m in members if m.id is not None])
        chosen = pick_assignee(
            [
                Candidate(m.id, counts.get(m.id, 0), m.last_assigned_at, m.active)
                for m in members
                if m.id is not None
            ]
        )
        if chosen is not None:
            inspector = next(m for m in members if m.id == chosen)
            await assign_case(
                session,
                case,
                inspector,
                policy=policy,
                now=now,
                actor=actor,
            )
            return inspector
        reason = "本组暂无在岗监督员，请组长分派。"
    await _notify_team_leaders(session, case, team, now, reason, deciders=deciders)
    return None


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


async def target_team(session: AsyncSession, case: Case, team_id: int) -> Team:
    team = await session.get(Team, team_id)
    if team is None or not team.active:
        raise NotFound("该监督组不存在或已停用。", detail=f"team {team_id} unusable")
    if team.id == case.team_id:
        raise InvalidInput("问题已在该组，请选择其他监督组。")
    return team


async def dispatcher_team(session: AsyncSession) -> Team:
    team = (await session.exec(select(Team).where(col(Team.is_dispatcher).is_(True)))).first()
    assert team is not None, "the catalog always has a dispatcher team"
    return team
