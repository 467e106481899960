"""室组联动: 协办 teams on a case.

A case's own team (``cases.team_id``) is its lead team (主办) and answers for it. Its team
leader (or a 委领导, or an admin, on an appeal) adds and removes 协办 teams: active teams other
than the lead team, and on a clue only a team that handles clues (the 信访室, or a team covering
a clue-track category). A 协办 team's members (on a clue: its team leaders) see the case — never
the reporter's identity, which stays with the lead team (``permissions.may_view_identity``) —
add 协办进展 (an internal note that does not move the case), and are told of its changes
(``assist_notices``). Every add and remove is an event on the case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.case_lists import assists_case
from bot.services.notices import team_name, tell_inspectors
from bot.services.permissions import actor_of, clean_note, load_case, moved_on
from models.assist import CaseAssist
from models.case import OPEN_STATUSES, Case
from models.errors import InvalidInput, NotFound, PermissionDenied
from models.event import SYSTEM, CaseEvent, EventKind, record_event
from models.notification import Offer
from models.org import Category, Track
from models.team import Inspector, Role, Team, TeamCategory
from notifications.outbox import team_leaders_of, withdraw_waiting
from notifications.texts import preview

MANAGE_REFUSED = "只有主办组组长、委领导或管理员可以增加或撤销协办组。"
PROGRESS_REFUSED = "您所在的组不是该问题的协办组，不能记录协办进展。"


def may_manage_assists(actor: Inspector, case: Case) -> bool:
    """增加/撤销协办组: the lead team's team leader; a 委领导 or an admin on an appeal (they never
    see a clue's row). Open cases only."""
    return case.status in OPEN_STATUSES and _manages(actor, case)


def _manages(actor: Inspector, case: Case) -> bool:
    """Whether ``actor`` manages the case's 协办 teams, whatever its status."""
    if actor.role is Role.TEAM_LEADER:
        return actor.team_id is not None and actor.team_id == case.team_id
    return actor.role in (Role.LEADER, Role.ADMIN) and case.track is Track.APPEAL


def _require_manager(actor: Inspector, case: Case, action: str) -> None:
    """Who may act first, then whether the case still allows it: someone who may not manage
    the case's 协办 teams learns nothing of it, not even that it was closed or withdrawn."""
    if not _manages(actor, case):
        raise PermissionDenied(
            MANAGE_REFUSED, detail=f"case {case.id}: inspector {actor.id} may not {action}"
        )
    if case.status not in OPEN_STATUSES:
        raise moved_on(case, action)


async def handles_clues(session: AsyncSession, team: Team) -> bool:
    """A team handles 问题线索 if it is the dispatcher (信访室) or covers a clue-track category
    (the database's form of ``bot.config.handles_clues``)."""
    if team.is_dispatcher:
        return True
    found = await session.exec(
        select(TeamCategory.category_id)
        .join(Category, col(Category.id) == col(TeamCategory.category_id))
        .where(TeamCategory.team_id == team.id, Category.track == Track.CLUE)
        .limit(1)
    )
    return found.first() is not None


async def open_assists(session: AsyncSession, case: Case) -> list[CaseAssist]:
    """The case's open 协办 rows (not the lead team's), oldest first."""
    rows = await session.exec(
        select(CaseAssist)
        .where(
            CaseAssist.case_id == case.id,
            col(CaseAssist.removed_at).is_(None),
            CaseAssist.team_id != case.team_id,
        )
        .order_by(col(CaseAssist.id))
    )
    return list(rows.all())


async def assist_teams(session: AsyncSession, case: Case) -> list[Team]:
    """The case's 协办 teams."""
    ids = [row.team_id for row in await open_assists(session, case)]
    if not ids:
        return []
    rows = await session.exec(select(Team).where(col(Team.id).in_(ids)))
    teams = {t.id: t for t in rows.all()}
    return [teams[i] for i in ids if i in teams]


async def assist_targets(session: AsyncSession, case: Case) -> list[Team]:
    """The teams that could be added: active, not the lead team nor already 协办; on a clue,
    only teams that handle clues."""
    taken = {row.team_id for row in await open_assists(session, case)} | {case.team_id}
    teams = (
        await session.exec(
            select(Team)
            .where(col(Team.active).is_(True))
            .order_by(col(Team.is_dispatcher).desc(), col(Team.id))
        )
    ).all()
    return [
        t
        for t in teams
        if t.id not in taken and (case.track is Track.APPEAL or await handles_clues(session, t))
    ]


async def _lead_people(session: AsyncSession, case: Case) -> list[Inspector]:
    """Who answers for the case now: its assignee, or (none yet) the lead team's leaders."""
    assignee = await session.get(Inspector, case.assignee_id) if case.assignee_id else None
    if assignee is not None and assignee.active:
        return [assignee]
    return await team_leaders_of(session, case.team_id)


@dataclass(frozen=True, slots=True)
class AssistChange:
    """A 协办 team added or removed, and the case as it now stands."""

    case: Case
    team: Team
    assist: CaseAssist


async def _usable_team(session: AsyncSession, case: Case, team_id: int) -> Team:
    team = await session.get(Team, team_id)
    if team is None or not team.active:
        raise NotFound("该监督组不存在或已停用。", detail=f"team {team_id} unusable")
    if team.id == case.team_id:
        raise InvalidInput("该组是本问题的主办组，不能同时作为协办组。")
    if case.track is Track.CLUE and not await handles_clues(session, team):
        raise InvalidInput(
            f"{team.name}不办理问题线索，问题线索只能请办理线索的组协办。",
            detail=f"case {case.id} is a clue; team {team.id} handles no clues",
        )
    return team


async def add_assist_team(
    session: AsyncSession, actor: Inspector, case_id: int, *, team_id: int, now: datetime
) -> AssistChange:
    """增加协办组: the team's leaders are told (with 协办进展 and 查看材料), the lead assignee too."""
    case = await load_case(session, case_id)
    _require_manager(actor, case, "增加协办组")
    team = await _usable_team(session, case, team_id)
    if any(row.team_id == team.id for row in await open_assists(session, case)):
        raise InvalidInput(f"{team.name}已是本问题的协办组。")
    assert actor.id is not None and team.id is not None and case.id is not None
    assist = CaseAssist(case_id=case.id, team_id=team.id, added_by_id=actor.id, added_at=now)
    data = {"team": team.code, "assist_team": team.id}
    event = record_event(case, EventKind.ASSIST_ADDED, actor_of(actor), now, data=data)
    session.add_all([assist, case, event])
    lead = await team_name(session, case.team_id)
    await tell_inspectors(
        session, case, await team_leaders_of(session, team.id), "assist_invited",
        stage=event.seq, now=now, offer=Offer.ASSIST_PROGRESS.on(case.id), lead=lead,
        track_label=case.track.label, description=preview(case.description, 300),
    )  # fmt: skip
    await tell_inspectors(
        session, case, await _lead_people(session, case), "assist_added",
        stage=event.seq, now=now, team=team.name, added=True,
    )  # fmt: skip
    await session.commit()
    return AssistChange(case, team, assist)


async def remove_assist_team(
    session: AsyncSession, actor: Inspector, case_id: int, *, team_id: int, now: datetime
) -> AssistChange:
    """撤销协办组: the row is closed (kept), the team's leaders are told; the team no longer sees
    the case, and its notices on the case still waiting in the outbox are withdrawn."""
    case = await load_case(session, case_id)
    _require_manager(actor, case, "撤销协办组")
    row = next((r for r in await open_assists(session, case) if r.team_id == team_id), None)
    team = await session.get(Team, team_id)
    if row is None or team is None:
        raise InvalidInput("该组不是本问题的协办组。", detail=f"case {case.id}: team {team_id}")
    row.removed_at = now
    row.removed_by_id = actor.id
    data = {"team": team.code, "assist_team": team.id}
    event = record_event(case, EventKind.ASSIST_REMOVED, actor_of(actor), now, data=data)
    session.add_all([row, case, event])
    members = select(Inspector.id).where(col(Inspector.team_id) == team_id)
    await withdraw_waiting(session, members, case_id=case.id)  # it no longer sees the case
    await tell_inspectors(
        session, case, await team_leaders_of(session, team_id), "assist_removed",
        stage=event.seq, now=now, lead=await team_name(session, case.team_id),
    )  # fmt: skip
    await session.commit()
    return AssistChange(case, team, row)


async def end_assists(session: AsyncSession, case: Case, now: datetime) -> None:
    """The case leaves its lead team (转办, 退回): every open 协办 ends with it — the new lead
    team decides its own 协办, and a team that assisted never keeps seeing a clue because it
    was once asked to (nor becomes lead and 协办 at once). One event per team; the caller
    commits. (The 协办 teams hear of the transfer itself through ``assist_notices``.)"""
    rows = await session.exec(
        select(CaseAssist).where(
            CaseAssist.case_id == case.id, col(CaseAssist.removed_at).is_(None)
        )
    )
    for row in rows.all():
        team = await session.get(Team, row.team_id)
        row.removed_at = now
        data = {"team": team.code if team else "", "assist_team": row.team_id}
        event = record_event(
            case,
            EventKind.ASSIST_REMOVED,
            SYSTEM,
            now,
            note="主办组变更，协办随之结束。",
            data=data,
        )
        session.add_all([row, case, event])


def _progress_role(actor: Inspector, case: Case) -> bool:
    """Who of a 协办 team writes 协办进展: who sees the case (a clue: its team leaders)."""
    if not actor.active:
        return False
    if actor.role is Role.TEAM_LEADER:
        return True
    return actor.role is Role.INSPECTOR and case.track is Track.APPEAL


async def may_add_assist_progress(session: AsyncSession, actor: Inspector, case: Case) -> bool:
    """协办进展: a member of an open 协办 team (on a clue, its team leader), on an open case."""
    return (
        case.status in OPEN_STATUSES
        and _progress_role(actor, case)
        and await assists_case(session, actor, case)
    )


async def check_assist_progress(session: AsyncSession, actor: Inspector, case_id: int) -> Case:
    """Before the note is asked for: the checks ``add_assist_progress`` makes at the end."""
    case = await load_case(session, case_id)
    if not (_progress_role(actor, case) and await assists_case(session, actor, case)):
        raise PermissionDenied(
            PROGRESS_REFUSED, detail=f"case {case.id}: inspector {actor.id} does not assist it"
        )
    if case.status not in OPEN_STATUSES:
        raise moved_on(case, "记录协办进展")
    return case


@dataclass(frozen=True, slots=True)
class AssistNote:
    """A 协办进展 recorded: the case and its event."""

    case: Case
    event: CaseEvent


async def add_assist_progress(
    session: AsyncSession, actor: Inspector, case_id: int, *, note: str, now: datetime
) -> AssistNote:
    """记录协办进展: an internal note with the 协办 team recorded; the case's status does not
    move and the reporter is not told (an appeal's reporter hears only the lead's progress).
    The lead assignee (or, before one, the lead team's leaders) is told."""
    case = await check_assist_progress(session, actor, case_id)
    text = clean_note(note, "协办进展")
    team = await session.get(Team, actor.team_id)
    assert team is not None and team.id is not None
    data = {"assist_team": team.id, "team": team.code}
    event = record_event(
        case, EventKind.ASSIST_PROGRESS, actor_of(actor), now, note=text, data=data
    )
    session.add_all([case, event])
    await tell_inspectors(
        session, case, await _lead_people(session, case), "assist_progress",
        stage=event.seq, now=now, team=team.name, name=actor.name, note=text,
    )  # fmt: skip
    await session.commit()
    return AssistNote(case, event)


@dataclass(frozen=True, slots=True)
class AssistPanel:
    """协办 on the case page (and /assist): the lead team, the 协办 teams, and what this person
    may do about them."""

    number: str
    lead: str
    teams: list[Team]
    may_manage: bool
    targets: list[Team]
    may_progress: bool

    @property
    def shown(self) -> bool:
        return bool(self.teams or self.may_manage or self.may_progress)


async def assist_panel(session: AsyncSession, actor: Inspector, case: Case) -> AssistPanel:
    """The 协办 panel for ``actor``, who has been allowed to see the case (``require_view``)."""
    manage = may_manage_assists(actor, case)
    return AssistPanel(
        number=case.number,
        lead=await team_name(session, case.team_id),
        teams=await assist_teams(session, case),
        may_manage=manage,
        targets=await assist_targets(session, case) if manage else [],
        may_progress=await may_add_assist_progress(session, actor, case),
    )


async def assist_options(session: AsyncSession, actor: Inspector, case_id: int) -> AssistPanel:
    """The 协办 teams and the teams that could be added, for whoever may add or remove them."""
    case = await load_case(session, case_id)
    _require_manager(actor, case, "增加或撤销协办组")
    return await assist_panel(session, actor, case)
