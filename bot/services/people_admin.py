"""The console's 人员 page: teams and people, invitations and deactivation, for an admin only
(the use cases of ``lianka inspectors`` with the acting person authorised first)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LiankaConfig
from bot.services.inspectors import (
    TEAM_ROLES,
    Deactivated,
    InspectorRow,
    Invite,
    TeamRow,
    create_invite,
    deactivate_inspector,
    get_inspector,
    get_team_by_code,
    list_inspectors,
    list_teams,
    require_active_admin,
)
from models.account import ConsoleAccount
from models.case import OPEN_STATUSES, Case
from models.errors import InvalidInput
from models.team import AssignmentMode, Inspector, Role, Team

INVITE_ROLES = (Role.INSPECTOR, Role.TEAM_LEADER, Role.LEADER, Role.ADMIN)
"""The roles ``lianka inspectors invite`` offers."""
NAME_MAX = 100

ASSIGNMENT_LABELS = {
    AssignmentMode.AUTO: "自动分派（在办最少者优先）",
    AssignmentMode.LEADER: "组长分派",
}


@dataclass(frozen=True, slots=True)
class Coverage:
    """What a team covers, as the config file says (names, not codes)."""

    categories: list[str]
    zones: list[str]
    assignment: str


@dataclass(frozen=True, slots=True)
class People:
    """The teams with their coverage, and everyone registered."""

    teams: list[TeamRow]
    coverage: dict[str, Coverage]
    people: list[InspectorRow]
    console_ids: frozenset[int]


def _coverage(config: LiankaConfig) -> dict[str, Coverage]:
    categories = {c.code: c.name for c in config.categories}
    zones = {z.code: z.name for z in config.zones}
    return {
        team.code: Coverage(
            [categories.get(c, c) for c in team.categories],
            [zones.get(z, z) for z in team.zones],
            ASSIGNMENT_LABELS.get(team.assignment, str(team.assignment)),
        )
        for team in config.teams
    }


async def list_people(session: AsyncSession, actor: Inspector, config: LiankaConfig) -> People:
    """Teams (members, open cases, coverage) and people (role, team, Telegram bound or not,
    console account or not, open cases, active)."""
    require_active_admin(actor)
    return People(
        await list_teams(session),
        _coverage(config),
        await list_inspectors(session),
        frozenset(await _console_people(session)),
    )


async def _console_people(session: AsyncSession) -> set[int]:
    """The people with a console account not disabled."""
    rows = await session.exec(
        select(ConsoleAccount.inspector_id).where(col(ConsoleAccount.disabled_at).is_(None))
    )
    return set(rows.all())


async def list_invite_teams(session: AsyncSession, actor: Inspector) -> list[Team]:
    """The active teams an invitation may name."""
    require_active_admin(actor)
    teams = await session.exec(select(Team).where(col(Team.active)).order_by(col(Team.id)))
    return list(teams.all())


@dataclass(frozen=True, slots=True)
class MadeInvite:
    """An invitation just made, with its team's name for the page that shows it once."""

    invite: Invite
    team_name: str | None


async def invite_person(
    session: AsyncSession,
    actor: Inspector,
    *,
    role: Role,
    team_code: str | None,
    name: str | None,
    bot_username: str,
    now: datetime,
) -> MadeInvite:
    """A one-time invite link (``lianka inspectors invite``), made by an admin."""
    require_active_admin(actor)
    name = " ".join((name or "").split()) or None
    if name is not None and len(name) > NAME_MAX:
        raise InvalidInput(f"姓名不能超过{NAME_MAX}个字。")
    if role not in INVITE_ROLES:
        raise InvalidInput("请选择角色。")
    if role in TEAM_ROLES and not team_code:
        raise InvalidInput(f"{role.label}必须属于一个监督组，请选择团队。")
    invite = await create_invite(
        session,
        role=role,
        team_code=team_code or None,
        name=name,
        bot_username=bot_username,
        now=now,
    )
    team = await get_team_by_code(session, invite.team_code) if invite.team_code else None
    return MadeInvite(invite, team.name if team else None)


@dataclass(frozen=True, slots=True)
class PersonToDeactivate:
    inspector: Inspector
    team_name: str | None
    open_cases: int


async def get_person_to_deactivate(
    session: AsyncSession, actor: Inspector, inspector_id: int
) -> PersonToDeactivate:
    """Who would be deactivated, and how many open cases would go back to their leader."""
    require_active_admin(actor)
    inspector = await get_inspector(session, inspector_id)
    team = await session.get(Team, inspector.team_id) if inspector.team_id else None
    open_cases = await session.exec(
        select(func.count())
        .select_from(Case)
        .where(Case.assignee_id == inspector_id, col(Case.status).in_(OPEN_STATUSES))
    )
    return PersonToDeactivate(inspector, team.name if team else None, int(open_cases.one()))


async def deactivate_person(
    session: AsyncSession, actor: Inspector, inspector_id: int, now: datetime
) -> Deactivated:
    """An admin deactivates someone (``lianka inspectors deactivate``): their open cases go back
    to the team leader."""
    require_active_admin(actor)
    return await deactivate_inspector(session, inspector_id, now, by=actor)
