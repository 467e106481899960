"""The people on the commission's side: invitations, registration, deactivation, who is who."""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from models.case import OPEN_STATUSES, TRANSFERABLE, Case, CaseStatus
from models.errors import DomainError, InvalidInput, NotFound, PermissionDenied
from models.event import Actor, ActorType, EventKind, record_event, transition
from models.notification import Notice, Offer
from models.org import Track
from models.request import ApprovalRequest, RequestKind, RequestStatus
from models.team import Inspector, InviteCode, Role, Team
from notifications.outbox import (
    active_admins,
    notify_inspectors,
    reachable,
    team_leaders_of,
    withdraw_waiting,
)
from notifications.texts import case_params, preview

logger = logging.getLogger(__name__)

INVITE_PREFIX = "i_"
INVITE_DAYS = 7
TEAM_ROLES = frozenset({Role.INSPECTOR, Role.TEAM_LEADER})
"""Roles that belong to a team and work its cases."""


class InviteRefused(DomainError):
    message = "该邀请链接无效，请联系管理员重新生成。"


def invite_hash(code: str) -> str:
    """Only this hash of an invite code is stored."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def invite_link(bot_username: str, code: str) -> str:
    """``https://t.me/<bot>?start=i_<code>``: opening it binds the Telegram account."""
    return f"https://t.me/{bot_username.removeprefix('@')}?start={INVITE_PREFIX}{code}"


@dataclass(frozen=True, slots=True)
class Invite:
    """A fresh invitation: the code is shown once, only its hash is kept."""

    id: int
    code: str
    link: str
    role: Role
    team_code: str | None
    name: str | None
    expires_at: datetime


async def get_team_by_code(session: AsyncSession, code: str) -> Team:
    team = (await session.exec(select(Team).where(Team.code == code))).first()
    if team is None:
        raise NotFound(f"未知的监督组 “{code}”。", detail=f"unknown team {code}")
    return team


async def create_invite(
    session: AsyncSession,
    *,
    role: Role,
    team_code: str | None,
    name: str | None,
    bot_username: str,
    now: datetime,
) -> Invite:
    """A one-time link valid for 7 days; inspectors and team leaders need a team, leaders and
    admins may have one."""
    team = await get_team_by_code(session, team_code) if team_code else None
    if role in TEAM_ROLES and team is None:
        raise InvalidInput(f"{role.label}必须属于一个监督组（--team）。")
    if team is not None and not team.active:
        raise InvalidInput(f"监督组 “{team.code}” 已停用。")
    code = secrets.token_urlsafe(24)
    row = InviteCode(
        code_hash=invite_hash(code),
        team_id=team.id if team else None,
        role=role,
        name=name,
        created_at=now,
        expires_at=now + timedelta(days=INVITE_DAYS),
    )
    session.add(row)
    await session.commit()
    assert row.id is not None
    return Invite(
        id=row.id,
        code=code,
        link=invite_link(bot_username, code),
        role=role,
        team_code=team.code if team else None,
        name=name,
        expires_at=row.expires_at,
    )


@dataclass(frozen=True, slots=True)
class Registered:
    inspector: Inspector
    team_name: str | None


async def bind_invite(
    session: AsyncSession,
    *,
    code: str,
    telegram_user_id: int,
    chat_id: int,
    display_name: str,
    now: datetime,
) -> Registered:
    """Opening an invite link binds that Telegram account; a used, expired or unknown code is
    refused, and an account already registered and active cannot take a second one. A
    deactivated person invited again is reactivated with the new role and team."""
    invite = (
        await session.exec(select(InviteCode).where(InviteCode.code_hash == invite_hash(code)))
    ).first()
    if invite is None:
        raise InviteRefused(detail="unknown invite code")
    if invite.used_at is not None:
        raise InviteRefused("该邀请链接已被使用，请联系管理员重新生成。", detail="invite used")
    if invite.expires_at <= now:
        raise InviteRefused("该邀请链接已过期，请联系管理员重新生成。", detail="invite expired")
    inspector = (
        await session.exec(select(Inspector).where(Inspector.telegram_user_id == telegram_user_id))
    ).first()
    if inspector is not None and inspector.active:
        raise InviteRefused(
            "您的账号已登记，无需重复登记。如需变更角色，请联系管理员。",
            detail=f"account already bound to inspector {inspector.id}",
        )
    name = invite.name or display_name[:100] or "监督员"
    if inspector is None:
        inspector = Inspector(
            name=name,
            role=invite.role,
            team_id=invite.team_id,
            telegram_user_id=telegram_user_id,
            chat_id=chat_id,
            created_at=now,
        )
    else:
        inspector.name, inspector.role, inspector.team_id = name, invite.role, invite.team_id
        inspector.chat_id, inspector.active = chat_id, True
        inspector.deactivated_at = None
    session.add(inspector)
    await session.flush()
    claimed = await session.exec(
        update(InviteCode)
        .where(col(InviteCode.id) == invite.id, col(InviteCode.used_at).is_(None))
        .values(used_at=now, inspector_id=inspector.id)
    )
    if claimed.rowcount != 1:  # someone opened the same link a moment earlier
        await session.rollback()
        raise InviteRefused("该邀请链接已被使用，请联系管理员重新生成。", detail="invite raced")
    await session.commit()
    logger.info("invite %s bound to inspector %s", invite.id, inspector.id)
    team = await session.get(Team, inspector.team_id) if inspector.team_id else None
    return Registered(inspector, team.name if team else None)


async def find_actor(session: AsyncSession, telegram_user_id: int) -> Inspector | None:
    """The active registered person using this Telegram account, if any."""
    return (
        await session.exec(
            select(Inspector).where(
                Inspector.telegram_user_id == telegram_user_id, col(Inspector.active).is_(True)
            )
        )
    ).first()


async def get_actor(session: AsyncSession, telegram_user_id: int) -> Inspector:
    """The active registered person using this Telegram account; anyone else is refused."""
    inspector = await find_actor(session, telegram_user_id)
    if inspector is None:
        raise PermissionDenied(
            "您不是登记的监督人员，无权进行此操作。", detail="not an active inspector"
        )
    return inspector


async def team_leaders(
    session: AsyncSession, team_id: int | None, *, track: Track
) -> list[Inspector]:
    """Who decides for a team: its active team leaders; for an appeal, the admins if it has
    none. A clue is seen only by the team leader and the assignee (DESIGN.md), so a clue team
    without a leader gets nobody here (routing tells the admins, without the content)."""
    people = await team_leaders_of(session, team_id)
    if not people and track is Track.APPEAL:
        people = await active_admins(session)
    return people


async def deciders(session: AsyncSession, case: Case, requester_id: int | None) -> list[Inspector]:
    """Who decides a request about ``case`` made by ``requester_id``: the team's active team
    leaders but the requester (nobody decides their own request); with none left, for an
    appeal, the admins (who stand in for a team with no other leader); for a clue, nobody but
    its team's leaders (DESIGN.md: a clue is seen by its team leader and assignee only).
    ``requester_id`` is None for a reporter's request (a clue's 撤回)."""
    leaders = [
        person
        for person in await team_leaders(session, case.team_id, track=Track.CLUE)
        if person.id != requester_id
    ]
    if not leaders and case.track is Track.APPEAL:
        leaders = [admin for admin in await active_admins(session) if admin.id != requester_id]
    return leaders


async def request_deciders(
    session: AsyncSession, case: Case, request: ApprovalRequest
) -> list[Inspector]:
    """Who decides ``request``: a 重办 request (不满意 past the 重办 limit) the 委领导; any
    other, ``deciders``."""
    if request.kind is RequestKind.REOPEN:
        return await reachable(session, Role.LEADER)
    return await deciders(session, case, request.requested_by_id)


@dataclass(frozen=True, slots=True)
class Deactivated:
    """Who was deactivated and the numbers of the open cases that went back to their leader."""

    inspector: Inspector
    cases: list[str] = field(default_factory=list)


async def get_inspector(session: AsyncSession, inspector_id: int) -> Inspector:
    inspector = await session.get(Inspector, inspector_id)
    if inspector is None:
        raise NotFound(f"未找到编号为 {inspector_id} 的人员。", detail="unknown inspector")
    return inspector


def require_admin(actor: Inspector) -> None:
    if actor.role is not Role.ADMIN:
        raise PermissionDenied(
            "只有管理员可以进行此操作。", detail=f"inspector {actor.id} not admin"
        )


def require_active_admin(actor: Inspector) -> None:
    """An admin still active (the console's people and cards pages are for nobody else)."""
    if not actor.active:
        raise PermissionDenied("您的账号已停用。", detail=f"inspector {actor.id} inactive")
    require_admin(actor)


async def deactivate_inspector(
    session: AsyncSession, inspector_id: int, now: datetime, by: Inspector | None = None
) -> Deactivated:
    """Nobody can act as a deactivated person; their open cases go back to the team leader's
    queue (submitted, unassigned; a 重办 case keeps its status), their pending requests are
    withdrawn, and the leader is told case by case. In Telegram only an admin may do it (the
    command line is the server's admin)."""
    if by is not None:
        require_admin(by)
        if by.id == inspector_id:
            raise InvalidInput("不能停用自己的账号。")
    inspector = await get_inspector(session, inspector_id)
    if not inspector.active:
        raise InvalidInput(f"{inspector.name} 已停用。", detail="already inactive")
    who = Actor(ActorType.ADMIN, by.id if by else None)
    inspector.active = False
    inspector.deactivated_at = now
    session.add(inspector)
    cases = list(
        (
            await session.exec(
                select(Case)
                .where(Case.assignee_id == inspector_id, col(Case.status).in_(OPEN_STATUSES))
                .order_by(col(Case.id))
            )
        ).all()
    )
    pending = (
        await session.exec(
            select(ApprovalRequest).where(
                ApprovalRequest.requested_by_id == inspector_id,
                ApprovalRequest.status == RequestStatus.PENDING,
            )
        )
    ).all()
    for request in pending:
        request.status = RequestStatus.CANCELLED
        request.decided_at = now
        request.decision_note = "申请人已停用"
        session.add(request)
    data = {"inspector": inspector_id, "reason": "deactivated"}
    for case in cases:
        if case.status in TRANSFERABLE:
            event = transition(
                case, CaseStatus.SUBMITTED, EventKind.UNASSIGNED, who, now, data=data
            )
        else:
            event = record_event(case, EventKind.UNASSIGNED, who, now, data=data)
        case.assignee_id = None
        session.add_all([case, event])
    await withdraw_waiting(session, inspector_id)  # notices still waiting go nowhere
    await session.flush()
    for case in cases:
        await _tell_leaders_case_back(session, case, inspector, now)
    await session.commit()
    logger.info("inspector %s deactivated; %s open cases back to leaders", inspector_id, len(cases))
    return Deactivated(inspector, [c.number for c in cases])


async def _tell_leaders_case_back(
    session: AsyncSession, case: Case, inspector: Inspector, now: datetime
) -> None:
    """The team leader gets the case back with the 分派 button."""
    assert case.id is not None
    notice = Notice.of(
        "leader_case_back",
        case=case_params(case),
        status=case.status.label,
        inspector=inspector.name,
        description=preview(case.description, 200),
    )
    await notify_inspectors(
        session,
        case.id,
        await team_leaders(session, case.team_id, track=case.track),
        kind="case_back",
        stage=case.event_count,
        notice=notice,
        now=now,
        offer=Offer.LEADER_ASSIGN.on(case.id),
    )


@dataclass(frozen=True, slots=True)
class InspectorRow:
    """One registered person as the admin lists them."""

    id: int
    name: str
    role: Role
    team_code: str | None
    team_name: str | None
    active: bool
    bound: bool
    open_cases: int
    created_at: datetime


async def _open_counts(session: AsyncSession) -> dict[int, int]:
    rows = await session.exec(
        select(Case.assignee_id, func.count())
        .where(col(Case.assignee_id).is_not(None), col(Case.status).in_(OPEN_STATUSES))
        .group_by(col(Case.assignee_id))
    )
    return {int(a): int(n) for a, n in rows.all() if a is not None}


async def list_inspectors(
    session: AsyncSession, *, include_inactive: bool = True
) -> list[InspectorRow]:
    """Everyone registered, by team then role, with their open cases."""
    teams = {t.id: t for t in (await session.exec(select(Team))).all()}
    query = select(Inspector).order_by(col(Inspector.team_id), col(Inspector.id))
    if not include_inactive:
        query = query.where(col(Inspector.active).is_(True))
    people = (await session.exec(query)).all()
    counts = await _open_counts(session)
    rows = []
    for person in people:
        assert person.id is not None
        team = teams.get(person.team_id)
        rows.append(
            InspectorRow(
                id=person.id,
                name=person.name,
                role=person.role,
                team_code=team.code if team else None,
                team_name=team.name if team else None,
                active=person.active,
                bound=person.telegram_user_id is not None,
                open_cases=counts.get(person.id, 0),
                created_at=person.created_at,
            )
        )
    return rows


@dataclass(frozen=True, slots=True)
class TeamRow:
    """A team with its active members and its open cases."""

    id: int
    code: str
    name: str
    is_dispatcher: bool
    assignment: str
    active: bool
    members: list[InspectorRow]
    open_cases: int
    unassigned: int


async def list_teams(session: AsyncSession) -> list[TeamRow]:
    """Every team, its active members (with their load) and its open and unassigned cases."""
    teams = (await session.exec(select(Team).order_by(col(Team.id)))).all()
    members = await list_inspectors(session, include_inactive=False)
    open_rows = await session.exec(
        select(Case.team_id, func.count())
        .where(col(Case.status).in_(OPEN_STATUSES))
        .group_by(col(Case.team_id))
    )
    open_counts = {t: int(n) for t, n in open_rows.all()}
    waiting_rows = await session.exec(
        select(Case.team_id, func.count())
        .where(col(Case.status).in_(OPEN_STATUSES), col(Case.assignee_id).is_(None))
        .group_by(col(Case.team_id))
    )
    waiting = {t: int(n) for t, n in waiting_rows.all()}
    rows = []
    for team in teams:
        assert team.id is not None
        rows.append(
            TeamRow(
                id=team.id,
                code=team.code,
                name=team.name,
                is_dispatcher=team.is_dispatcher,
                assignment=str(team.assignment),
                active=team.active,
                members=[m for m in members if m.team_code == team.code],
                open_cases=open_counts.get(team.id, 0),
                unassigned=waiting.get(team.id, 0),
            )
        )
    return rows
