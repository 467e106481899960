"""流转记录 audit: recompute every case's hash chain and report what does not hold."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.account import AccessEvent, ConsoleAccount
from models.case import Case
from models.errors import NotFound, PermissionDenied
from models.event import CaseEvent, ChainProblem, EventKind, verify_chain
from models.team import Inspector, Role

IDENTITY_VIEWS_PER_PAGE = 30


@dataclass
class AuditReport:
    """How much was checked and every problem found."""

    cases: int = 0
    events: int = 0
    problems: list[ChainProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


async def verify_audit(session: AsyncSession, number: str | None = None) -> AuditReport:
    """Every case's events must chain from the first to the one the case records as its last:
    an edited, inserted or deleted event breaks a hash, a link, the sequence or the count."""
    cases_query = select(Case).order_by(col(Case.id))
    events_query = select(CaseEvent).order_by(col(CaseEvent.case_id), col(CaseEvent.seq))
    if number is not None:
        case = (await session.exec(select(Case).where(Case.number == number))).first()
        if case is None:
            raise NotFound(f"未找到编号为 {number} 的问题。")
        cases_query = cases_query.where(Case.id == case.id)
        events_query = events_query.where(CaseEvent.case_id == case.id)
    cases = {c.id: c for c in (await session.exec(cases_query)).all()}
    events = (await session.exec(events_query)).all()
    by_case = {case_id: list(group) for case_id, group in groupby(events, key=lambda e: e.case_id)}
    report = AuditReport(cases=len(cases), events=len(events))
    for case_id, case in cases.items():
        report.problems += verify_chain(case, by_case.get(case_id or 0, []))
    return report


def require_auditor(actor: Inspector) -> None:
    """The audit trail is read by admins (who run the system) and by the commission's leaders
    (who oversee everyone, admins included, who saw a reporter's identity); nobody else."""
    if not actor.active or actor.role not in (Role.ADMIN, Role.LEADER):
        raise PermissionDenied(
            "审计记录仅向管理员和委领导提供。", detail=f"audit refused: inspector {actor.id}"
        )


async def verify_audit_as(session: AsyncSession, actor: Inspector) -> AuditReport:
    """``lianka audit verify`` from the console: every case's chain, for an admin or leader."""
    require_auditor(actor)
    return await verify_audit(session)


_PROBLEMS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"sequence gap: expected (\d+), found (\d+)"),
        "序号不连续：应为第{0}条，实为第{1}条",
    ),
    (re.compile(r"link broken"), "链接断开：此前的记录缺失或被改动"),
    (re.compile(r"content edited"), "内容被改动：哈希值不符"),
    (
        re.compile(r"chain end does not match the case: (\d+) events, case records (\d+)"),
        "记录的末尾与问题不符（有记录被删除、增加或回退）：现有{0}条，问题记载{1}条",
    ),
)


def problem_text(problem: ChainProblem) -> str:
    """What broke, in Chinese, for the console."""
    for pattern, text in _PROBLEMS:
        found = pattern.search(problem.problem)
        if found:
            return text.format(*found.groups())
    return problem.problem


@dataclass(frozen=True, slots=True)
class IdentityView:
    """One viewing of a reporter's identity: who, when, which case (never the identity)."""

    case_number: str
    viewer: str
    role: str
    viewed_at: datetime


@dataclass(frozen=True, slots=True)
class IdentityViews:
    views: list[IdentityView]
    page: int
    pages: int
    total: int


async def list_identity_views(
    session: AsyncSession, actor: Inspector, *, page: int = 1
) -> IdentityViews:
    """身份查看记录: every IDENTITY_VIEWED event, newest first, a page at a time."""
    require_auditor(actor)
    viewed = col(CaseEvent.kind) == EventKind.IDENTITY_VIEWED
    total = (await session.exec(select(func.count()).where(viewed))).one()
    pages = max(1, -(-int(total) // IDENTITY_VIEWS_PER_PAGE))
    page = min(max(page, 1), pages)
    rows = (
        await session.exec(
            select(CaseEvent, Case.number, Inspector)
            .join(Case, col(Case.id) == col(CaseEvent.case_id))
            .outerjoin(Inspector, col(Inspector.id) == col(CaseEvent.actor_id))
            .where(viewed)
            .order_by(col(CaseEvent.created_at).desc(), col(CaseEvent.id).desc())
            .offset((page - 1) * IDENTITY_VIEWS_PER_PAGE)
            .limit(IDENTITY_VIEWS_PER_PAGE)
        )
    ).all()
    return IdentityViews(
        views=[
            IdentityView(
                case_number=number,
                viewer=person.name if person is not None else f"（编号{event.actor_id}）",
                role=person.role.label if person is not None else "—",
                viewed_at=event.created_at,
            )
            for event, number, person in rows
        ],
        page=page,
        pages=pages,
        total=int(total),
    )


ACCESS_LOG_PER_PAGE = 30


@dataclass(frozen=True, slots=True)
class AccessLine:
    """One line of the console's sign-in log: when, what, which account and person, from where."""

    at: datetime
    what: str
    username: str | None
    person: str | None
    client: str | None


@dataclass(frozen=True, slots=True)
class AccessLog:
    lines: list[AccessLine]
    page: int
    pages: int
    total: int


async def list_access_log(session: AsyncSession, actor: Inspector, *, page: int = 1) -> AccessLog:
    """登录记录: the console's sign-ins, failures, lock-outs and sign-outs, newest first."""
    require_auditor(actor)
    total = int((await session.exec(select(func.count()).select_from(AccessEvent))).one())
    pages = max(1, -(-total // ACCESS_LOG_PER_PAGE))
    page = min(max(page, 1), pages)
    rows = (
        await session.exec(
            select(AccessEvent, ConsoleAccount, Inspector)
            .outerjoin(ConsoleAccount, col(ConsoleAccount.id) == col(AccessEvent.account_id))
            .outerjoin(Inspector, col(Inspector.id) == col(ConsoleAccount.inspector_id))
            .order_by(col(AccessEvent.at).desc(), col(AccessEvent.id).desc())
            .offset((page - 1) * ACCESS_LOG_PER_PAGE)
            .limit(ACCESS_LOG_PER_PAGE)
        )
    ).all()
    return AccessLog(
        lines=[
            AccessLine(
                at=event.at,
                what=event.kind.label,
                username=account.username if account is not None else None,
                person=person.name if person is not None else None,
                client=event.client,
            )
            for event, account, person in rows
        ],
        page=page,
        pages=pages,
        total=total,
    )


@dataclass(frozen=True, slots=True)
class ProblemLine:
    case_number: str
    seq: int | None
    text: str


@dataclass(frozen=True, slots=True)
class AuditPage:
    """The 审计 page: a verification's result when one was asked for, and the identity views."""

    result: AuditReport | None
    problems: list[ProblemLine]
    views: IdentityViews
    access: AccessLog


async def get_audit_page(
    session: AsyncSession,
    actor: Inspector,
    *,
    page: int = 1,
    log_page: int = 1,
    verify: bool = False,
) -> AuditPage:
    """The 审计 page for an admin or leader: ``verify`` runs ``lianka audit verify`` first;
    the identity views and the console's sign-in log, each a page at a time."""
    require_auditor(actor)
    result = await verify_audit(session) if verify else None
    return AuditPage(
        result=result,
        problems=[
            ProblemLine(p.case_number, p.seq, problem_text(p))
            for p in (result.problems if result else [])
        ],
        views=await list_identity_views(session, actor, page=page),
        access=await list_access_log(session, actor, page=log_page),
    )
