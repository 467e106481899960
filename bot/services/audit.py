"""流转记录 audit: recompute every case's hash chain and report what does not hold."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.anchors import (
    check_anchor_file,
    read_anchor_lines,
    verify_access_log,
    verify_anchors,
)
from models import keys
from models.account import AccessEvent, ConsoleAccount
from models.anchor import AnchorLine
from models.attachment import Attachment
from models.case import Case
from models.errors import NotFound, PermissionDenied
from models.event import (
    ActorType,
    CaseEvent,
    CaseLike,
    ChainProblem,
    EventKind,
    EventLike,
    Reported,
    material_ref,
    verify_chain,
    verify_reported,
)
from models.keys import SealBroken, is_sealed
from models.reporter import ReporterContact
from models.team import Inspector, Role

IDENTITY_VIEWS_PER_PAGE = 30


@dataclass
class AuditReport:
    """How much was checked and every problem found."""

    cases: int = 0
    events: int = 0
    problems: list[ChainProblem] = field(default_factory=list)
    access_events: int = 0
    anchors: int = 0
    last_anchor: AnchorLine | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


AUDIT_CHUNK = 2_000
"""Cases checked together: their events, files and contacts read by one range each, then let
go, so a province's million cases are verified in bounded memory."""

AUDIT_YIELD_EVERY = 25
"""Cases checked between two turns of the event loop. The check is the process's own work (a
chunk of 2,000 cases, about a second of CPU on a slow machine) and the console's 核验 runs in
the process that serves the bot and the web pages: without a turn now and then, every update
and page would wait behind the chunk; 25 cases are about 15 ms."""


def _anchored_counts(anchor_file: Path | None) -> dict[str, int]:
    """Each case number the anchor file's newest line holds, with its anchored event count: the
    one hash per case that ``verify_anchors`` compares (read here so the chunks keep no more)."""
    texts = read_anchor_lines(anchor_file) if anchor_file is not None else None
    if not texts:
        return {}
    parsed, _ = check_anchor_file(texts)
    return {number: count for number, (count, _) in parsed[-1].heads.items()} if parsed else {}


Progress = Callable[[AuditReport], Awaitable[None]]
"""Told after every chunk how far the check has got (the console's 核验 writes it down)."""


async def verify_audit(
    session: AsyncSession,
    number: str | None = None,
    *,
    anchor_file: Path | None = None,
    progress: Progress | None = None,
) -> AuditReport:
    """Every case's events must chain from the first to the one the case records as its last:
    an edited, inserted or deleted event breaks a hash, a link, the sequence or the count. The
    case's rows must still say what its history recorded (description, files, contact, outcome,
    amount, assignee). The console's sign-in log must chain too, and, given the ``anchor_file``,
    no case may be missing or behind the newest anchor. Cases are read ``AUDIT_CHUNK`` at a
    time by id; ``progress`` is awaited after each chunk (what it raises ends the check)."""
    only: int | None = None
    if number is not None:
        case = (await session.exec(select(Case).where(Case.number == number))).first()
        if case is None:
            raise NotFound(f"未找到编号为 {number} 的问题。")
        only = case.id
    anchored = _anchored_counts(anchor_file)
    report = AuditReport()
    heads: dict[str, tuple[int, dict[int, str]]] = {}
    after = 0
    connection = await session.connection()
    while True:
        query = sa.select(*_CASE_COLUMNS).where(_CASES.c.id > after)
        if only is not None:
            query = query.where(_CASES.c.id == only)
        cases = (await connection.execute(query.order_by(_CASES.c.id).limit(AUDIT_CHUNK))).all()
        if not cases:
            break
        low, high = cases[0].id, cases[-1].id
        await _verify_chunk(
            session, cases, (low, high), report=report, heads=heads, anchored=anchored
        )
        after = high
        if progress is not None:
            await progress(report)
    if number is None:
        report.access_events, access_problems = await verify_access_log(session)
        report.problems += access_problems
    if anchor_file is not None:
        check = await verify_anchors(session, anchor_file, heads, only=number)
        report.problems += check.problems
        report.anchors, report.last_anchor = check.lines, check.last
    return report


_CASES: sa.Table = Case.__table__  # type: ignore[attr-defined]
_EVENTS: sa.Table = CaseEvent.__table__  # type: ignore[attr-defined]
_CASE_COLUMNS = [
    _CASES.c[name]
    for name in (
        "id",
        "number",
        "event_count",
        "last_event_hash",
        "description",
        "outcome",
        "outcome_summary",
        "amount_coordinated_yuan",
        "satisfaction",
        "assignee_id",
    )
]
"""What the checks read of a case (``models.event.CaseLike``), as plain rows: the cases and
their events are read as the columns' values, not as ORM objects, whose making, tracking and
letting go cost more than the hashes they are checked by."""


async def _verify_chunk(
    session: AsyncSession,
    cases: Sequence[sa.Row[Any]],
    span: tuple[int, int],
    *,
    report: AuditReport,
    heads: dict[str, tuple[int, dict[int, str]]],
    anchored: dict[str, int],
) -> None:
    """Check the cases with ids in ``span`` (``cases``, in id order); the rows read are let go
    of after, and only the hash an anchor names is kept in ``heads``."""
    low, high = span
    connection = await session.connection()
    events: Sequence[sa.Row[Any]] = (
        await connection.execute(
            sa.select(_EVENTS)
            .where(_EVENTS.c.case_id.between(low, high))
            .order_by(_EVENTS.c.case_id, _EVENTS.c.seq)
        )
    ).all()
    by_case = {case_id: list(group) for case_id, group in groupby(events, key=lambda e: e.case_id)}
    attachments = (
        await session.exec(
            select(Attachment)
            .where(
                Attachment.added_by == ActorType.REPORTER,
                col(Attachment.case_id).between(low, high),
            )
            .order_by(col(Attachment.case_id), col(Attachment.id))
        )
    ).all()
    files = {case_id: list(group) for case_id, group in groupby(attachments, lambda a: a.case_id)}
    contact_rows = (
        await session.exec(
            select(ReporterContact).where(col(ReporterContact.case_id).between(low, high))
        )
    ).all()
    contacts = {c.case_id: c for c in contact_rows}
    report.cases += len(cases)
    report.events += len(events)
    for index, case in enumerate(cases):
        if index and index % AUDIT_YIELD_EVERY == 0:
            await asyncio.sleep(0)  # the process's other work goes on meanwhile
        chain: Sequence[Any] = by_case.get(case.id, [])
        reported = (files.get(case.id, []), contacts.get(case.id))
        problems = _check_case(case, chain, reported)
        if problems:
            case, chain = await _read_case(connection, case, chain)
            problems = _check_case(case, chain, reported)
        report.problems += problems
        if case.number in anchored:
            seq = anchored[case.number]
            heads[case.number] = (case.event_count, {e.seq: e.hash for e in chain if e.seq == seq})
    for row in (*attachments, *contact_rows):
        session.expunge(row)


def _check_case(
    case: CaseLike,
    chain: Sequence[EventLike],
    reported: tuple[list[Attachment], ReporterContact | None],
) -> list[ChainProblem]:
    """The case's chain, then (when it holds) what its rows say against its history."""
    problems = verify_chain(case, chain)
    if problems:  # a broken chain is reason enough; its digests are not to be trusted
        return problems
    files, contact = reported
    return verify_reported(
        case,
        chain,
        Reported(materials=_submitted_files(files, chain), contact=_contact(contact)),
    )


_CASE_AND_EVENTS = (
    sa.select(*_EVENTS.c, *(column for column in _CASE_COLUMNS if column.name != "id"))
    .select_from(_CASES.outerjoin(_EVENTS, _EVENTS.c.case_id == _CASES.c.id))
    .where(_CASES.c.id == sa.bindparam("case_id"))
    .order_by(_EVENTS.c.seq)
)
"""A case's row and its events in one statement, so in one snapshot of the database: each row
has the event's columns and the case's (only ``id`` is in both, and is the event's)."""


async def _read_case(
    connection: AsyncConnection, case: sa.Row[Any], chain: Sequence[Any]
) -> tuple[Any, Sequence[Any]]:
    """The case and its events read again, together. The chunk read its cases, then their
    events, by two statements: a case worked on in between (签收, 办结: a new event and the
    case's row, in one transaction) would show one more event than its row records, or an
    outcome its history has not reached, and be reported as tampered with. What a case's rows
    and history say in one snapshot is what is reported; a case gone meanwhile is as read."""
    rows = (await connection.execute(_CASE_AND_EVENTS, {"case_id": case.id})).all()
    if not rows:
        return case, chain
    return rows[0], [row for row in rows if row.seq is not None]


def _submitted_files(files: list[Attachment], chain: Sequence[EventLike]) -> list[str]:
    """The refs of the files the reporter sent with the report (not those added later)."""
    first = min(chain, key=lambda e: e.seq, default=None)
    if first is None:
        return []
    return [material_ref(a) for a in files if a.created_at <= first.created_at]


def _contact(row: ReporterContact | None) -> tuple[str, str] | None:
    """The contact as given: sealed values are opened (a value that does not open is compared
    as it is, and so found changed)."""
    if row is None:
        return None
    return _plain(row.name, f"reporter_contacts.name:{row.case_id}"), _plain(
        row.phone, f"reporter_contacts.phone:{row.case_id}"
    )


def _plain(value: str, context: str) -> str:
    if not is_sealed(value):
        return value
    try:
        return keys.current().open(value, context=context)
    except SealBroken:
        return value


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
    (re.compile(r"description edited"), "问题描述被改动：与提交时的摘要不符"),
    (re.compile(r"materials changed"), "反映材料被改动：与提交时的材料不符"),
    (re.compile(r"contact added"), "联系方式被添加：提交时为匿名反映"),
    (re.compile(r"contact edited"), "联系方式被改动：与提交时的摘要不符"),
    (re.compile(r"outcome edited"), "办结结果被改动：与办结记录不符"),
    (re.compile(r"summary edited"), "办结情况被改动：与办结记录不符"),
    (re.compile(r"amount edited"), "协调金额被改动：与办结记录不符"),
    (re.compile(r"outcome without a resolution"), "有办结结果却无办结记录"),
    (re.compile(r"satisfaction edited"), "满意度被改动：与反映人的评价不符"),
    (re.compile(r"assignee changed"), "承办人被改动：与交办记录不符"),
    (
        re.compile(r"case deleted: (\d+) events anchored on ([\d-]+)"),
        "问题被整件删除：{1}的审计锚点记有{0}条流转记录",
    ),
    (
        re.compile(r"database rewound: (\d+) events, (\d+) anchored on ([\d-]+)"),
        "数据库被回退：现有{0}条记录，{2}的审计锚点记有{1}条",
    ),
    (
        re.compile(r"history rewritten since the anchor of ([\d-]+)"),
        "记录在{0}的审计锚点之后被改写",
    ),
    (
        re.compile(r"database behind the anchor file: anchor of ([\d-]+)"),
        "数据库缺少{0}的审计锚点（可能用旧备份覆盖了数据库）",
    ),
    (re.compile(r"anchor of ([\d-]+) forged or edited"), "{0}的审计锚点被伪造或改动"),
    (re.compile(r"anchor of ([\d-]+): an anchor before it is missing"), "{0}之前的审计锚点缺失"),
    (
        re.compile(r"anchor of ([\d-]+) in the database is not in the file"),
        "数据库中{0}的审计锚点不在锚点文件中",
    ),
    (re.compile(r"anchor file missing"), "审计锚点文件缺失"),
    (
        re.compile(r"anchor (\w+)… expected .* is not in the anchor file"),
        "应有的审计锚点{0}…不在锚点文件中：锚点文件被截短或替换",
    ),
    (re.compile(r"anchor line unreadable"), "审计锚点文件中有无法读取的行"),
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
    """The 审计 page's lists: the identity views and the console's sign-in log."""

    views: IdentityViews
    access: AccessLog


async def get_audit_page(
    session: AsyncSession, actor: Inspector, *, page: int = 1, log_page: int = 1
) -> AuditPage:
    """The 审计 page for an admin or leader: the identity views and the console's sign-in log,
    each a page at a time (核验 runs in the background: ``bot.services.audit_runs``)."""
    require_auditor(actor)
    return AuditPage(
        views=await list_identity_views(session, actor, page=page),
        access=await list_access_log(session, actor, page=log_page),
    )
