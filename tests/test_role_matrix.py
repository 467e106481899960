"""The role matrix of SECURITY.md is a test: the table is read from the file and every cell is
held to the behaviour of the use cases (the ones the bot, the console and the web pages call).
An ``allowed`` cell must succeed; a ``refused`` one must fail and change nothing (events,
requests, notices and the case as they were); an ``only …`` cell is tried with its condition met
(allowed) and not met (refused, nothing changed). The doc and this test cannot drift: a row, a
role, a condition or a ``—`` changed in the file without a probe here fails."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.acceptance import accept_case
from bot.services.aftercare import answer_none, check_aftercare
from bot.services.assignment import reassign_case
from bot.services.assist import add_assist_progress, add_assist_team
from bot.services.audit import verify_audit_as
from bot.services.audit_runs import start_audit_run, stop_audit_run
from bot.services.case_lists import show_case
from bot.services.clocks import get_clock
from bot.services.decisions import decide_request
from bot.services.dispositions import (
    decide_disposition,
    object_to_result,
    propose_disposition,
    review_disposition,
)
from bot.services.followup import reopen_unsatisfied
from bot.services.inspectors import deactivate_inspector
from bot.services.intake import submit_case
from bot.services.materials import view_materials
from bot.services.my_cases import find_by_receipt
from bot.services.policy import Policy
from bot.services.rectification import (
    set_rectification,
    verify_rectification,
    withdraw_rectification,
)
from bot.services.relay import ask_reporter
from bot.services.repeats import merge_repeat
from bot.services.requests import request_extension
from bot.services.resolution import resolve_case
from bot.services.supervision import reply_supervision, supervise_case
from bot.services.sweep import sweep_deadlines
from bot.services.tracking import withdraw_tracked_case
from models.audit_run import AuditRun, AuditRunState
from models.calendar import WorkCalendar
from models.case import Case, CaseStatus, Outcome, reporter_of
from models.clock import ClockKind, followup_ask_time
from models.disposition import ClueDisposition, Disposition, ProposalStatus
from models.errors import DomainError
from models.event import CaseEvent, EventKind
from models.intake import CaseDraft
from models.notification import Notification
from models.rectification import Rectification, RectificationState
from models.reporter import Reporter
from models.request import ApprovalRequest, RequestKind, RequestStatus
from models.team import Inspector, Role, Team
from tests.conftest import ROOT
from tests.factories import make_inspector, make_reporter

SECTION = "## Who can see and do what (role matrix)"
ROLES = ("reporter (receipt code)", "inspector", "team leader", "dispatcher", "leader", "admin")
APPEAL = "经开区管委会承诺的土地出让金返还至今未到位，企业资金链断裂，请帮助协调。"
CLUE = "某国企负责人在工程分包中收受好处费，指定关系户承接项目，金额巨大。"

STAFF_ONLY = (
    "see the reporter's identity (查看身份)",
    "assign / reassign (分派 / 改派)",
    "签收",
    "ask the reporter (提问)",
    "extension request (申请延期)",
    "decide one's own request",
    "decide others' requests",
    "decide on 重办 past the limit",
    "办结",
    "反馈整改 (set a rectification)",
    "核验整改 (verify a rectification)",
    "撤销整改要求 (withdraw a rectification)",
    "propose a clue's disposition (提出处置意见)",
    "review a clue's disposition (组长审核)",
    "approve a clue's disposition (委领导审批)",
    "督办",
    "督办回复",
    "merge a repeat report (合并)",
    "add or remove a 协办 team (室组联动)",
    "view a case as its 协办 team",
    "add 协办进展",
    "see the reporter's identity as a 协办 team",
    "read the audit trail",
    "start or stop the console's 核验 (开始核验 / 停止核验)",
    "configure (people, cards, teams)",
)
ASSIST_MEMBER = (
    "view a case as its 协办 team",
    "add 协办进展",
    "see the reporter's identity as a 协办 team",
)
"""The 协办 rows whose inspector / team leader / dispatcher are of a 协办 team (no team: —)."""
NO_ENTRY = (
    {(action, ROLES[0]) for action in STAFF_ONLY}
    | {("decide one's own request", role) for role in ("dispatcher", "leader", "admin")}
    | {(action, role) for action in ASSIST_MEMBER for role in ("leader", "admin")}
    | {
        (action, role)
        for action in (
            "withdraw an appeal (撤回)",
            "withdraw a clue (撤回)",
            "object to a clue's result (异议)",
            "answer the 防打击报复回访",
        )
        for role in ROLES[1:]
    }
)
"""The cells that read ``—`` (no channel offers the action to the role), as SECURITY.md has them."""

CONDITIONS = {
    ("view an appeal", ROLES[0]): "only its own, by its code",
    ("view a clue", ROLES[0]): "only its own, by its code",
    ("view an appeal", "inspector"): "only as assignee",
    ("view a clue", "inspector"): "only as assignee",
    ("see the reporter's identity (查看身份)", "inspector"): "only as assignee",
    ("assign / reassign (分派 / 改派)", "admin"): "only if the team has no team leader",
    ("签收", "inspector"): "only as assignee",
    ("签收", "team leader"): "only as assignee",
    ("ask the reporter (提问)", "inspector"): "only as assignee",
    ("ask the reporter (提问)", "team leader"): "only as assignee",
    ("extension request (申请延期)", "inspector"): "only as assignee",
    ("extension request (申请延期)", "team leader"): "only as assignee",
    ("decide others' requests", "admin"): "only if the team has no other team leader",
    ("办结", "inspector"): "only as assignee",
    ("办结", "team leader"): "only as assignee",
    ("反馈整改 (set a rectification)", "inspector"): "only as assignee",
    ("反馈整改 (set a rectification)", "team leader"): "only as assignee",
    ("核验整改 (verify a rectification)", "inspector"): "only as assignee",
    ("核验整改 (verify a rectification)", "team leader"): "only as assignee",
    ("撤销整改要求 (withdraw a rectification)", "admin"): "only if the team has no team leader",
    ("propose a clue's disposition (提出处置意见)", "inspector"): "only as assignee",
    ("propose a clue's disposition (提出处置意见)", "team leader"): "only as assignee",
    ("review a clue's disposition (组长审核)", "team leader"): "only if another proposed it",
    (
        "review a clue's disposition (组长审核)",
        "leader",
    ): "only if the team's only team leader proposed it",
    ("approve a clue's disposition (委领导审批)", "leader"): "only if they did not review it",
    ("object to a clue's result (异议)", ROLES[0]): "only once, on a named clue",
    ("answer the 防打击报复回访", ROLES[0]): "only once, once asked",
    ("督办", "leader"): "only an appeal",
    ("add or remove a 协办 team (室组联动)", "leader"): "only an appeal",
    ("add or remove a 协办 team (室组联动)", "admin"): "only an appeal",
    ("view a case as its 协办 team", "inspector"): "only on an appeal",
    ("add 协办进展", "inspector"): "only on an appeal",
    ("督办回复", "inspector"): "only as assignee",
    ("merge a repeat report (合并)", "inspector"): "only as assignee",
    ("withdraw an appeal (撤回)", ROLES[0]): "only before 签收",
    ("withdraw a clue (撤回)", ROLES[0]): "only as a request the team leader decides",
}
"""Every ``only …`` cell of SECURITY.md with its words: the probes below know these conditions."""


def read_matrix() -> dict[tuple[str, str], str]:
    """The table under SECURITY.md's role-matrix heading: (action, role) → cell."""
    text = (ROOT / "SECURITY.md").read_text(encoding="utf-8")
    assert SECTION in text, "SECURITY.md has no role matrix"
    lines = [line.strip() for line in text.split(SECTION, 1)[1].splitlines()]
    table = []
    for line in lines:
        if line.startswith("|"):
            table.append([cell.strip() for cell in line.strip("|").split("|")])
        elif table:
            break
    header, rule, *rows = table
    assert header[0] == "action" and tuple(header[1:]) == ROLES, header
    assert all(set(cell) <= {"-"} for cell in rule)
    cells = {}
    for row in rows:
        assert len(row) == len(header), row
        for role, cell in zip(ROLES, row[1:], strict=True):
            cells[(row[0], role)] = cell
    return cells


MATRIX = read_matrix()


def verdict(cell: str) -> str:
    """``allowed``, ``refused``, ``only`` or ``—`` (a bracketed note after the first two)."""
    word = re.sub(r"\s*\(.*\)$", "", cell)
    if word in ("allowed", "refused", "—"):
        return word
    assert cell.startswith("only "), f"unreadable cell {cell!r}"
    return "only"


# --- the world: one appeal (anonymous, with its receipt code), one named appeal, one clue ---


@dataclass
class World:
    sessions: SessionFactory
    policy: Policy
    now: datetime
    appeal: Case
    appeal_code: str
    named: Case
    clue: Case
    clue_code: str
    leader: Inspector
    admin: Inspector
    dispatcher: Inspector

    async def person(self, inspector_id: int) -> Inspector:
        async with self.sessions() as session:
            person = await session.get(Inspector, inspector_id)
        assert person is not None
        return person

    async def case(self, case_id: int) -> Case:
        async with self.sessions() as session:
            case = await session.get(Case, case_id)
        assert case is not None
        return case

    async def team(self, case: Case, role: Role) -> list[Inspector]:
        async with self.sessions() as session:
            rows = await session.exec(
                select(Inspector)
                .where(Inspector.team_id == case.team_id, Inspector.role == role)
                .order_by(col(Inspector.id))
            )
            return list(rows.all())


async def _submit(
    sessions: SessionFactory, policy: Policy, now: datetime, user: int, draft: CaseDraft
) -> tuple[Case, str | None]:
    async with sessions() as session:
        reporter = await make_reporter(session, now, telegram_user_id=user)
        submitted = await submit_case(session, reporter, draft, policy=policy, now=now)
    return submitted.case, submitted.receipt_code


async def build_world(
    sessions: SessionFactory, config: LiankaConfig, calendar: WorkCalendar, now: datetime
) -> World:
    policy = Policy(config, calendar)
    people = [
        ("business_env", "李监督", Role.INSPECTOR, 501),
        ("business_env", "孙监督", Role.INSPECTOR, 502),
        ("business_env", "曾组长", Role.TEAM_LEADER, 601),
        ("soe", "周监督", Role.INSPECTOR, 511),
        ("soe", "吴监督", Role.INSPECTOR, 512),
        ("soe", "钱组长", Role.TEAM_LEADER, 611),
        ("dispatch", "郑组长", Role.TEAM_LEADER, 621),
        (None, "王书记", Role.LEADER, 701),
        (None, "赵管理", Role.ADMIN, 801),
    ]
    made = {}
    async with sessions() as session:
        for team, name, role, user in people:
            made[user] = await make_inspector(
                session, now, team_code=team, name=name, role=role, telegram_user_id=user
            )
    appeal, appeal_code = await _submit(
        sessions, policy, now, 7_000_001, CaseDraft("business_env", APPEAL, anonymous=True)
    )
    named, _ = await _submit(
        sessions,
        policy,
        now,
        7_000_002,
        CaseDraft(
            "business_env",
            APPEAL,
            anonymous=False,
            contact_name="张三",
            contact_phone="13800138000",
        ),
    )
    clue, clue_code = await _submit(
        sessions, policy, now, 7_000_003, CaseDraft("soe_corruption", CLUE, anonymous=True)
    )
    assert appeal_code and clue_code and clue.id is not None
    async with sessions() as session:  # the soe team assigns by hand
        await reassign_case(
            session, made[611], clue.id, inspector_id=made[511].id or 0, policy=policy, now=now
        )
    world = World(
        sessions, policy, now, appeal, appeal_code, named, clue, clue_code,
        made[701], made[801], made[621],
    )  # fmt: skip
    world.appeal, world.named, world.clue = (
        await world.case(appeal.id or 0),
        await world.case(named.id or 0),
        await world.case(clue.id),
    )
    assert world.appeal.assignee_id and world.named.assignee_id and world.clue.assignee_id
    return world


# --- what "nothing changed" means ---


async def snapshot(w: World) -> tuple[object, ...]:
    async with w.sessions() as session:
        counts = [
            (await session.exec(select(func.count()).select_from(table))).one()
            for table in (CaseEvent, ApprovalRequest, Notification, ClueDisposition)
        ]
        rectifications = (
            await session.exec(
                select(Rectification.id, Rectification.state).order_by(col(Rectification.id))
            )
        ).all()
        requests = (
            await session.exec(
                select(ApprovalRequest.id, ApprovalRequest.status).order_by(col(ApprovalRequest.id))
            )
        ).all()
        cases = [
            (c.id, c.status, c.assignee_id, c.team_id, c.supervised)
            for c in (await session.exec(select(Case).order_by(col(Case.id)))).all()
        ]
        people = (await session.exec(select(Inspector.id, Inspector.active))).all()
    return (
        *counts, tuple(requests), tuple(cases), tuple(sorted(people)), tuple(rectifications)
    )  # fmt: skip


async def attempt(w: World, action: Callable[[], Awaitable[bool]]) -> bool:
    """Run ``action``: True if it was allowed; refused (a domain error, or False), nothing may
    have changed."""
    before = await snapshot(w)
    try:
        allowed = await action()
    except DomainError:
        allowed = False
    if not allowed:
        assert await snapshot(w) == before, "a refused action changed something"
    return allowed


# --- who plays a role on a case ---


async def staff(w: World, role: str, case: Case, *, assignee: bool = True) -> Inspector:
    """The person in ``role`` for ``case``: for "inspector", its assignee (or, ``assignee``
    False, another inspector of its team)."""
    if role == "inspector":
        members = await w.team(case, Role.INSPECTOR)
        chosen = [m for m in members if (m.id == case.assignee_id) == assignee]
        return chosen[0]
    if role == "team leader":
        return (await w.team(case, Role.TEAM_LEADER))[0]
    return {"dispatcher": w.dispatcher, "leader": w.leader, "admin": w.admin}[role]


async def take(w: World, case: Case, person: Inspector) -> Case:
    """The case's team leader gives it to ``person`` (a team leader taking it themselves)."""
    leader = (await w.team(case, Role.TEAM_LEADER))[0]
    if case.assignee_id != person.id:
        async with w.sessions() as session:
            await reassign_case(
                session, leader, case.id or 0, inspector_id=person.id or 0, policy=w.policy,
                now=w.now,
            )  # fmt: skip
    return await w.case(case.id or 0)


async def accepted(w: World, case: Case, holder: Inspector | None = None) -> Case:
    """The case signed for by ``holder`` (given to them first), or by its assignee."""
    if holder is not None:
        case = await take(w, case, holder)
    person = await w.person(case.assignee_id or 0)
    async with w.sessions() as session:
        await accept_case(session, person, case.id or 0, policy=w.policy, now=w.now)
    return await w.case(case.id or 0)


async def acting(w: World, role: str, case: Case, met: bool | None) -> tuple[Inspector, Case]:
    """For the assignee's actions: who acts and the case ready for them. ``met`` None: the role
    as it is (an inspector is the assignee; a team leader does not hold the case); "only as
    assignee" met: the person holds it, not met: someone else of the role does."""
    if role == "team leader" and met:
        person = await staff(w, role, case)
        return person, await accepted(w, case, person)
    case = await accepted(w, case)
    return await staff(w, role, case, assignee=met is not False), case


# --- the probes: one per action; ``met`` None for a plain allowed/refused cell ---

Probe = Callable[[World, str, bool | None], Awaitable[bool]]


def _viewer(which: str) -> Probe:
    async def probe(w: World, role: str, met: bool | None) -> bool:
        case, code = (w.appeal, w.appeal_code) if which == "appeal" else (w.clue, w.clue_code)
        if role == ROLES[0]:

            async def look() -> bool:
                async with w.sessions() as session:
                    found = await find_by_receipt(session, code if met else "AAAA-AAAA-AAAA")
                return found is not None and found.id == case.id

            return await attempt(w, look)
        person = await staff(w, role, case, assignee=met is not False)

        async def read() -> bool:
            async with w.sessions() as session:
                detail = await show_case(session, person, case.number, w.now)
            return detail.case.id == case.id

        return await attempt(w, read)

    return probe


async def identity(w: World, role: str, met: bool | None) -> bool:
    person = await staff(w, role, w.named, assignee=met is not False)
    before = await _events(w, EventKind.IDENTITY_VIEWED)

    async def read() -> bool:
        async with w.sessions() as session:
            shown = await view_materials(session, person, w.named.id or 0, now=w.now)
        return shown.contact is not None

    allowed = await attempt(w, read)
    assert await _events(w, EventKind.IDENTITY_VIEWED) == before + int(allowed)
    return allowed


async def _events(w: World, kind: EventKind) -> int:
    async with w.sessions() as session:
        return (
            await session.exec(
                select(func.count()).select_from(CaseEvent).where(CaseEvent.kind == kind)
            )
        ).one()


async def _without_team_leader(w: World, case: Case) -> None:
    for leader in await w.team(case, Role.TEAM_LEADER):
        async with w.sessions() as session:
            await deactivate_inspector(session, leader.id or 0, w.now)


async def assign(w: World, role: str, met: bool | None) -> bool:
    case = w.appeal
    person = await staff(w, role, case)
    if role == "admin" and met:
        await _without_team_leader(w, case)
    other = await staff(w, "inspector", case, assignee=False)

    async def give() -> bool:
        async with w.sessions() as session:
            await reassign_case(
                session, person, case.id or 0, inspector_id=other.id or 0, policy=w.policy,
                now=w.now,
            )  # fmt: skip
        return True

    return await attempt(w, give)


async def _stand_ins(w: World, kind: EventKind) -> int:
    async with w.sessions() as session:
        events = (await session.exec(select(CaseEvent).where(CaseEvent.kind == kind))).all()
    return sum(1 for event in events if event.data.get("stand_in") is True)


async def sign_for(w: World, role: str, met: bool | None) -> bool:
    case = w.appeal
    if role == "team leader" and met:
        case = await take(w, case, await staff(w, role, case))
    person = (
        await w.person(case.assignee_id or 0)
        if met or (met is None and role == "inspector")
        else await staff(w, role, case, assignee=False)
    )

    async def accept() -> bool:
        async with w.sessions() as session:
            await accept_case(session, person, case.id or 0, policy=w.policy, now=w.now)
        return True

    return await attempt(w, accept)


async def ask(w: World, role: str, met: bool | None) -> bool:
    person, case = await acting(w, role, w.appeal, met)

    async def question() -> bool:
        async with w.sessions() as session:
            await ask_reporter(
                session, person, case.id or 0, question="请提供合同复印件。", now=w.now
            )
        return True

    return await attempt(w, question)


async def extend(w: World, role: str, met: bool | None) -> bool:
    person, case = await acting(w, role, w.appeal, met)

    async def file() -> bool:
        async with w.sessions() as session:
            await request_extension(
                session, person, case.id or 0, days=5, reason="需等待会议研究。", now=w.now
            )
        return True

    return await attempt(w, file)


async def _filed(w: World, holder_role: str) -> tuple[Inspector, ApprovalRequest]:
    """An extension of the appeal asked by its holder: the assignee, or the team leader."""
    holder = await staff(w, holder_role, w.appeal)
    case = await accepted(w, w.appeal, holder if holder_role == "team leader" else None)
    person = await w.person(case.assignee_id or 0)
    async with w.sessions() as session:
        request = await request_extension(
            session, person, case.id or 0, days=5, reason="需等待会议研究。", now=w.now
        )
    return person, request


async def _decide(w: World, person: Inspector, request: ApprovalRequest) -> bool:
    async with w.sessions() as session:
        decision = await decide_request(
            session, person, request.id or 0, approve=True, policy=w.policy, now=w.now
        )
    return decision.request.status is RequestStatus.APPROVED


async def decide_own(w: World, role: str, met: bool | None) -> bool:
    person, request = await _filed(w, role)
    return await attempt(w, lambda: _decide(w, person, request))


async def decide_others(w: World, role: str, met: bool | None) -> bool:
    _, request = await _filed(w, "inspector")
    if role == "admin" and met:
        await _without_team_leader(w, w.appeal)
    person = await staff(w, role, w.appeal, assignee=role != "inspector")
    allowed = await attempt(w, lambda: _decide(w, person, request))
    if allowed and role == "admin":
        assert await _stand_ins(w, EventKind.EXTENSION_APPROVED) == 1
    return allowed


async def decide_reopen(w: World, role: str, met: bool | None) -> bool:
    """A 不满意 past the 重办 limit (none allowed here) waits for the 委领导's decision."""
    case = await accepted(w, w.named)
    holder = await w.person(case.assignee_id or 0)
    limits = w.policy.config.limits.model_copy(update={"max_reopens": 0})
    policy = Policy(w.policy.config.model_copy(update={"limits": limits}), w.policy.calendar)
    async with w.sessions() as session:
        await resolve_case(
            session, holder, case.id or 0, outcome=Outcome.SOLVED,
            summary="已协调管委会返还土地出让金。", amount_yuan=None, policy=policy, now=w.now,
        )  # fmt: skip
    async with w.sessions() as session:
        referred = await reopen_unsatisfied(
            session, 7_000_002, case.id or 0, reason="仍未返还。", policy=policy, now=w.now
        )
    assert referred.referred
    async with w.sessions() as session:
        request = (
            await session.exec(
                select(ApprovalRequest).where(ApprovalRequest.kind == RequestKind.REOPEN)
            )
        ).one()
    person = await staff(w, role, case, assignee=True)
    return await attempt(w, lambda: _decide(w, person, request))


async def resolve(w: World, role: str, met: bool | None) -> bool:
    person, case = await acting(w, role, w.appeal, met)

    async def done() -> bool:
        async with w.sessions() as session:
            await resolve_case(
                session, person, case.id or 0, outcome=Outcome.SOLVED,
                summary="已协调管委会返还土地出让金。", amount_yuan=None, policy=w.policy,
                now=w.now,
            )  # fmt: skip
        return True

    return await attempt(w, done)


async def _rectify(w: World, person: Inspector, case: Case) -> bool:
    async with w.sessions() as session:
        await set_rectification(
            session, person, case.id or 0, requirement="限期返还土地出让金。", unit="经开区管委会",
            days=10, policy=w.policy, now=w.now,
        )  # fmt: skip
    return True


async def rectify(w: World, role: str, met: bool | None) -> bool:
    person, case = await acting(w, role, w.appeal, met)
    return await attempt(w, lambda: _rectify(w, person, case))


async def verify(w: World, role: str, met: bool | None) -> bool:
    """核验 of a 整改 its holder set."""
    person, case = await acting(w, role, w.appeal, met)
    await _rectify(w, await w.person(case.assignee_id or 0), case)

    async def check() -> bool:
        async with w.sessions() as session:
            done = await verify_rectification(
                session, person, case.id or 0, passed=True, note="已核实。", now=w.now
            )
        return done.rectification.state is RectificationState.VERIFIED

    return await attempt(w, check)


async def withdraw_rectification_as(w: World, role: str, met: bool | None) -> bool:
    """撤销整改要求 of the 整改 the appeal's holder set (the inspector: that holder)."""
    case = await accepted(w, w.appeal)
    await _rectify(w, await w.person(case.assignee_id or 0), case)
    if role == "admin" and met:
        await _without_team_leader(w, case)
    person = await staff(w, role, case)

    async def drop() -> bool:
        async with w.sessions() as session:
            done = await withdraw_rectification(
                session, person, case.id or 0, reason="整改要求有误。", now=w.now
            )
        return done.rectification.state is RectificationState.LAPSED

    return await attempt(w, drop)


async def supervise(w: World, role: str, met: bool | None) -> bool:
    case = w.clue if met is False else w.appeal
    person = await staff(w, role, case)

    async def flag() -> bool:
        async with w.sessions() as session:
            await supervise_case(session, person, case.id or 0, policy=w.policy, now=w.now)
        return True

    return await attempt(w, flag)


async def supervision_reply(w: World, role: str, met: bool | None) -> bool:
    """督办回复 on an appeal a leader marked 督办."""
    async with w.sessions() as session:
        await supervise_case(session, w.leader, w.appeal.id or 0, policy=w.policy, now=w.now)
    case = await w.case(w.appeal.id or 0)
    person = await staff(w, role, case, assignee=met is not False)

    async def answer() -> bool:
        async with w.sessions() as session:
            await reply_supervision(
                session, person, case.id or 0, "已约谈管委会，本周内落实。", now=w.now
            )
        return True

    return await attempt(w, answer)


async def merge(w: World, role: str, met: bool | None) -> bool:
    """合并办理: the named appeal repeats the anonymous one (same words, same zone)."""
    case = w.named
    assert case.repeat_of_id == w.appeal.id
    person = await staff(w, role, case, assignee=met is not False)

    async def fold() -> bool:
        async with w.sessions() as session:
            await merge_repeat(session, person, case.id or 0, now=w.now)
        return True

    return await attempt(w, fold)


async def withdraw_appeal(w: World, role: str, met: bool | None) -> bool:
    case = w.appeal if met else await accepted(w, w.appeal)

    async def withdraw() -> bool:
        async with w.sessions() as session:
            found = await find_by_receipt(session, w.appeal_code)
            assert found is not None and found.id == case.id
            done = await withdraw_tracked_case(session, case.id or 0, now=w.now)
        return done.status is CaseStatus.WITHDRAWN

    return await attempt(w, withdraw)


async def withdraw_clue(w: World, role: str, met: bool | None) -> bool:
    """Not met: the receipt holder alone does not withdraw the clue (the case is unchanged, a
    request waits); met: its team leader approves that request and the clue is withdrawn."""
    async with w.sessions() as session:
        found = await find_by_receipt(session, w.clue_code)
        assert found is not None and found.id == w.clue.id
        case = await withdraw_tracked_case(session, w.clue.id or 0, now=w.now)
    assert case.status is CaseStatus.ASSIGNED
    async with w.sessions() as session:
        waiting = (
            await session.exec(
                select(ApprovalRequest).where(ApprovalRequest.kind == RequestKind.WITHDRAWAL)
            )
        ).one()
    assert waiting.status is RequestStatus.PENDING and waiting.requested_by_id is None
    assert await _events(w, EventKind.WITHDRAW_REQUESTED) == 1
    if not met:
        return (await w.case(w.clue.id or 0)).status is CaseStatus.WITHDRAWN
    leader = await staff(w, "team leader", w.clue)
    async with w.sessions() as session:
        await decide_request(
            session, leader, waiting.id or 0, approve=True, policy=w.policy, now=w.now
        )
    return (await w.case(w.clue.id or 0)).status is CaseStatus.WITHDRAWN


async def audit(w: World, role: str, met: bool | None) -> bool:
    person = await staff(w, role, w.appeal)

    async def read() -> bool:
        async with w.sessions() as session:
            await verify_audit_as(session, person)
        return True

    return await attempt(w, read)


async def audit_run(w: World, role: str, met: bool | None) -> bool:
    """Stop the 核验 a leader started, then start one and stop it; a refused stop leaves the
    leader's run going."""
    person = await staff(w, role, w.appeal)
    async with w.sessions() as session:
        await start_audit_run(session, w.leader, now=w.now, anchored=False)

    async def stop_start_stop() -> bool:
        async with w.sessions() as session:
            await stop_audit_run(session, person, now=w.now)
            await start_audit_run(session, person, now=w.now, anchored=False)
            await stop_audit_run(session, person, now=w.now)
        return True

    allowed = await attempt(w, stop_start_stop)
    async with w.sessions() as session:
        states = (await session.exec(select(AuditRun.state).order_by(col(AuditRun.id)))).all()
    expected = [AuditRunState.STOPPED] * 2 if allowed else [AuditRunState.RUNNING]
    assert list(states) == expected
    return allowed


async def configure(w: World, role: str, met: bool | None) -> bool:
    person = await staff(w, role, w.appeal)
    other = await staff(w, "inspector", w.appeal, assignee=False)

    async def deactivate() -> bool:
        async with w.sessions() as session:
            await deactivate_inspector(session, other.id or 0, w.now, by=person)
        return True

    return await attempt(w, deactivate)


async def _propose(w: World, person: Inspector, case: Case, kind: Disposition) -> ClueDisposition:
    async with w.sessions() as session:
        return await propose_disposition(
            session, person, case.id or 0, kind=kind, reason="反映问题具体，建议谈话函询。",
            policy=w.policy, now=w.now,
        )  # fmt: skip


async def _review(w: World, person: Inspector, proposal: ClueDisposition) -> ClueDisposition:
    async with w.sessions() as session:
        return await review_disposition(
            session, person, proposal.id or 0, agree=True, policy=w.policy, now=w.now
        )


async def _approve(w: World, person: Inspector, proposal: ClueDisposition) -> ClueDisposition:
    async with w.sessions() as session:
        return await decide_disposition(
            session, person, proposal.id or 0, approve=True, policy=w.policy, now=w.now
        )


async def _second_leader(w: World) -> None:
    """Another 委领导: when one reviews a proposal (its team has no other team leader), another
    approves it (with one alone, the proposal is refused at once)."""
    async with w.sessions() as session:
        await make_inspector(
            session, w.now, team_code=None, name="李副书记", role=Role.LEADER,
            telegram_user_id=702,
        )  # fmt: skip


async def propose(w: World, role: str, met: bool | None) -> bool:
    if role == "team leader" and met:
        await _second_leader(w)  # the team leader holds it: two 委领导 review and approve
    person, case = await acting(w, role, w.clue, met)

    async def file() -> bool:
        return (await _propose(w, person, case, Disposition.TALK)).id is not None

    return await attempt(w, file)


async def review(w: World, role: str, met: bool | None) -> bool:
    """The team leader holds the clue and proposed it themselves: for a team leader, the
    condition not met; for a 委领导, met (they review in the team leader's stead)."""
    own = met is True if role == "leader" else met is False
    holder = await staff(w, "team leader", w.clue) if own else None
    if holder is not None:
        await _second_leader(w)  # one 委领导 reviews in the team leader's place, one approves
    case = await accepted(w, w.clue, holder)
    proposal = await _propose(w, await w.person(case.assignee_id or 0), case, Disposition.TALK)
    person = await staff(w, role, case, assignee=role != "inspector")
    if role == "inspector":
        person = await w.person(case.assignee_id or 0)

    async def agree() -> bool:
        return (await _review(w, person, proposal)).status is ProposalStatus.REVIEWED

    return await attempt(w, agree)


async def approve(w: World, role: str, met: bool | None) -> bool:
    """Met: a team leader reviewed it; not met: the team leader proposed it, so the 委领导
    reviewed it (standing in) and may not approve it too."""
    leader = await staff(w, "team leader", w.clue)
    if met is False:
        await _second_leader(w)
    case = await accepted(w, w.clue, leader if met is False else None)
    proposal = await _propose(w, await w.person(case.assignee_id or 0), case, Disposition.TALK)
    proposal = await _review(w, w.leader if met is False else leader, proposal)
    person = await staff(w, role, case)

    async def decide() -> bool:
        return (await _approve(w, person, proposal)).status is ProposalStatus.APPROVED

    return await attempt(w, decide)


async def object_once(w: World, role: str, met: bool | None) -> bool:
    """A named clue placed on file by 集体研判; its reporter objects (not met: a second time)."""
    async with w.sessions() as session:
        reporter = await make_reporter(session, w.now, telegram_user_id=7_000_004)
        named = await submit_case(
            session, reporter,
            CaseDraft("soe_corruption", CLUE, anonymous=False, contact_name="李四",
                      contact_phone="13900139000"),
            policy=w.policy, now=w.now,
        )  # fmt: skip
    leader = await staff(w, "team leader", named.case)
    case = await accepted(w, named.case, await staff(w, "inspector", w.clue))
    proposal = await _propose(w, await w.person(case.assignee_id or 0), case, Disposition.DISMISS)
    await _approve(w, w.leader, await _review(w, leader, proposal))

    async def objection() -> bool:
        async with w.sessions() as session:
            await object_to_result(
                session, case.id or 0, text="处理结果与事实不符。", reporter_id=reporter.id,
                policy=w.policy, now=w.now,
            )  # fmt: skip
        return True

    if not met:
        await objection()
    return await attempt(w, objection)


async def _assist(w: World, case: Case, team: str) -> None:
    """The case's team leader asks ``team`` to assist (室组联动)."""
    async with w.sessions() as session:
        team_id = (await session.exec(select(Team.id).where(Team.code == team))).one()
        await add_assist_team(
            session, (await w.team(case, Role.TEAM_LEADER))[0], case.id or 0,
            team_id=team_id or 0, now=w.now,
        )  # fmt: skip


async def _assist_member(w: World, role: str, met: bool | None, case: Case) -> Inspector:
    """Who plays ``role`` in a 协办 team of ``case``: 国资国企 assists an appeal, 信访室 (with
    a member made for it) a clue (not met: "only on an appeal"); the dispatcher: 信访室."""
    if met is False:
        case = w.clue
    team = "dispatch" if role == "dispatcher" or met is False else "soe"
    await _assist(w, case, team)
    if role == "dispatcher":
        return w.dispatcher
    async with w.sessions() as session:
        if met is False:
            return await make_inspector(
                session, w.now, team_code="dispatch", name="信访员", role=Role.INSPECTOR,
                telegram_user_id=622,
            )  # fmt: skip
        wanted = Role.INSPECTOR if role == "inspector" else Role.TEAM_LEADER
        found = await session.exec(
            select(Inspector).where(Inspector.role == wanted).join(Team).where(Team.code == "soe")
        )
        return found.first() or (await w.team(w.clue, wanted))[0]


async def manage_assists(w: World, role: str, met: bool | None) -> bool:
    case = w.clue if met is False else w.appeal
    person = await staff(w, role, case)

    async def add() -> bool:
        async with w.sessions() as session:
            team_id = (await session.exec(select(Team.id).where(Team.code == "dispatch"))).one()
            await add_assist_team(session, person, case.id or 0, team_id=team_id or 0, now=w.now)
        return True

    return await attempt(w, add)


async def view_as_assist(w: World, role: str, met: bool | None) -> bool:
    person = await _assist_member(w, role, met, w.appeal)
    case = w.clue if met is False else w.appeal

    async def read() -> bool:
        async with w.sessions() as session:
            return (await show_case(session, person, case.number, w.now)).case.id == case.id

    return await attempt(w, read)


async def assist_progress(w: World, role: str, met: bool | None) -> bool:
    person = await _assist_member(w, role, met, w.appeal)
    case = w.clue if met is False else w.appeal

    async def note() -> bool:
        async with w.sessions() as session:
            await add_assist_progress(
                session, person, case.id or 0, note="已调阅相关材料。", now=w.now
            )
        return True

    return await attempt(w, note)


async def identity_as_assist(w: World, role: str, met: bool | None) -> bool:
    person = await _assist_member(w, role, met, w.named)

    async def read() -> bool:
        async with w.sessions() as session:
            shown = await view_materials(session, person, w.named.id or 0, now=w.now)
        return shown.contact is not None

    return await attempt(w, read)


async def answer_aftercare(w: World, role: str, met: bool | None) -> bool:
    """The appeal resolved and, twenty working days on, its 防打击报复回访 asked; its reporter
    answers 没有 (not met: a second time)."""
    case = await accepted(w, w.appeal)
    async with w.sessions() as session:
        await resolve_case(
            session, await w.person(case.assignee_id or 0), case.id or 0, outcome=Outcome.SOLVED,
            summary="已协调管委会返还土地出让金。", amount_yuan=None, policy=w.policy, now=w.now,
        )  # fmt: skip
        clock = await get_clock(session, case.id or 0, ClockKind.AFTERCARE)
    assert clock is not None
    ask = followup_ask_time(w.policy.calendar, clock)
    await sweep_deadlines(w.sessions, w.policy.config, w.policy.calendar, ask)

    async def answer() -> bool:
        async with w.sessions() as session:
            found = await session.get(Case, case.id)
            assert found is not None
            reporter = await session.get(Reporter, reporter_of(found))
            found, reporter = await check_aftercare(session, reporter, found, case.id or 0)
            await answer_none(session, reporter, found, now=ask)
        return True

    if not met:
        await answer()
    return await attempt(w, answer)


PROBES: dict[str, Probe] = {
    "view an appeal": _viewer("appeal"),
    "view a clue": _viewer("clue"),
    "see the reporter's identity (查看身份)": identity,
    "assign / reassign (分派 / 改派)": assign,
    "签收": sign_for,
    "ask the reporter (提问)": ask,
    "extension request (申请延期)": extend,
    "decide one's own request": decide_own,
    "decide others' requests": decide_others,
    "decide on 重办 past the limit": decide_reopen,
    "办结": resolve,
    "反馈整改 (set a rectification)": rectify,
    "核验整改 (verify a rectification)": verify,
    "撤销整改要求 (withdraw a rectification)": withdraw_rectification_as,
    "propose a clue's disposition (提出处置意见)": propose,
    "review a clue's disposition (组长审核)": review,
    "approve a clue's disposition (委领导审批)": approve,
    "object to a clue's result (异议)": object_once,
    "answer the 防打击报复回访": answer_aftercare,
    "督办": supervise,
    "督办回复": supervision_reply,
    "merge a repeat report (合并)": merge,
    "add or remove a 协办 team (室组联动)": manage_assists,
    "view a case as its 协办 team": view_as_assist,
    "add 协办进展": assist_progress,
    "see the reporter's identity as a 协办 team": identity_as_assist,
    "withdraw an appeal (撤回)": withdraw_appeal,
    "withdraw a clue (撤回)": withdraw_clue,
    "read the audit trail": audit,
    "start or stop the console's 核验 (开始核验 / 停止核验)": audit_run,
    "configure (people, cards, teams)": configure,
}


def test_the_matrix_in_security_md_has_a_probe_for_every_row_and_every_condition() -> None:
    assert {action for action, _ in MATRIX} == set(PROBES)
    assert {key for key, cell in MATRIX.items() if verdict(cell) == "—"} == NO_ENTRY
    assert {key: cell for key, cell in MATRIX.items() if verdict(cell) == "only"} == CONDITIONS


RUNS = [
    pytest.param(action, role, met, id=f"{action} | {role} | {label}")
    for (action, role), cell in MATRIX.items()
    if verdict(cell) != "—"
    for met, label in (
        [(True, "condition met"), (False, "condition not met")]
        if verdict(cell) == "only"
        else [(None, verdict(cell))]
    )
]


@pytest.mark.parametrize(("action", "role", "met"), RUNS)
async def test_every_role_is_allowed_or_refused_exactly_as_security_md_says(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
    action: str,
    role: str,
    met: bool | None,
) -> None:
    world = await build_world(sessions, catalog, calendar, clock.now())
    cell = MATRIX[(action, role)]
    expected = met if met is not None else verdict(cell) == "allowed"
    allowed = await PROBES[action](world, role, met)
    assert allowed is expected, f"{role} / {action}: SECURITY.md says {cell!r}"
