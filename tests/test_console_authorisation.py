"""Who may do what in the console, over HTTP rather than through pages: every console action
tried by every role it is not for, by another team's inspector, with a forged case id, without
its CSRF token, after signing out and by a disabled account — each refused (403, 404 or the
sign-in page) with nothing changed in the database.

Routes are read from the server's own router, so a new console route is tried as soon as it
exists; one missing from ``REFUSED`` (who must be refused it) fails the test."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select as sa_select
from sqlmodel import SQLModel

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.acceptance import accept_case
from bot.services.accounts import disable_account
from bot.services.inspectors import get_team_by_code
from bot.services.policy import Policy
from bot.services.requests import request_extension
from models.calendar import WorkCalendar
from tests.casework import report
from tests.console_support import SignedIn, console_app, sign_in

pytestmark = pytest.mark.both_databases

ROLES = ("inspector", "team_leader", "outsider", "dispatcher", "leader", "admin")
"""``inspector`` is the case's assignee, ``team_leader`` leads its team, ``outsider`` is an
inspector of another team."""

EVERYONE_BUT = {role: frozenset(ROLES) - {role} for role in ROLES}
CASE_WORK = frozenset(ROLES) - {"inspector"}

REFUSED: dict[str, frozenset[str]] = {
    # POST: who must be refused, on a case assigned to the inspector (an appeal, 已分派) and a
    # pending extension request of theirs
    "console-case-do_accept": CASE_WORK,
    "console-case-do_route": frozenset({"inspector", "team_leader", "outsider", "dispatcher", "leader"}),
    "console-case-do_reassign": frozenset({"inspector", "outsider", "dispatcher", "leader"}),
    "console-case-do_return": CASE_WORK,
    "console-case-do_ask": CASE_WORK,
    "console-case-do_progress": CASE_WORK,
    "console-case-do_extend": CASE_WORK,
    "console-case-do_resolve": CASE_WORK,
    "console-case-do_rectify": CASE_WORK,
    "console-case-do_verify": CASE_WORK,
    "console-case-do_withdraw_rectification": EVERYONE_BUT["team_leader"],
    "console-case-do_supervise": frozenset({"inspector", "team_leader", "outsider", "dispatcher"}),
    "console-case-do_supervision_reply": frozenset({"outsider", "dispatcher", "leader", "admin"}),
    "console-case-do_merge": frozenset({"outsider", "dispatcher", "leader", "admin"}),
    # 室组联动: the lead team leader, a 委领导, an admin add or remove; no 协办 team here
    "console-case-do_assist_add": frozenset({"inspector", "outsider", "dispatcher"}),
    "console-case-do_assist_remove": frozenset({"inspector", "outsider", "dispatcher"}),
    "console-case-do_assist_progress": frozenset(ROLES),
    "console-case-identity": frozenset({"outsider", "dispatcher"}),
    "console-case-do_dispose": CASE_WORK,
    "console-case-do_review": frozenset({"inspector", "outsider", "dispatcher", "leader", "admin"}),
    "console-disposition-decide": EVERYONE_BUT["leader"],
    "console-disposition-review": EVERYONE_BUT["leader"],
    "console-dispositions": EVERYONE_BUT["leader"],
    "console-request-decide": frozenset({"inspector", "outsider", "dispatcher", "leader", "admin"}),
    "console-calendar-check": EVERYONE_BUT["admin"],
    "console-calendar-load": EVERYONE_BUT["admin"],
    "console-audit-verify": frozenset({"inspector", "team_leader", "outsider", "dispatcher"}),
    "console-audit-stop": frozenset({"inspector", "team_leader", "outsider", "dispatcher"}),
    "console-logout": frozenset(),
    **dict.fromkeys(
        (
            "console-cards-upload-post",
            "console-cards-upload-confirm",
            "console-cards-print-post",
            "console-cards-revoke",
            "console-cards-reissue",
            "console-people-invite-post",
            "console-people-deactivate-post",
            "console-cards",
            "console-cards-upload",
            "console-cards-print",
            "console-cards-card",
            "console-cards-confirm",
            "console-people",
            "console-people-invite",
            "console-people-deactivate",
        ),
        EVERYONE_BUT["admin"],
    ),
    # GET pages
    "console-case": frozenset({"outsider", "dispatcher"}),
    "console-case-file": frozenset({"outsider", "dispatcher"}),
    "console-reports": frozenset({"inspector", "outsider", "dispatcher"}),
    "console-reports-download": frozenset({"inspector", "outsider", "dispatcher"}),
    "console-audit": frozenset({"inspector", "team_leader", "outsider", "dispatcher"}),
    "console-account": frozenset(),
    "console-calendar": frozenset(),
    "console-home": frozenset(),  # each sees their own 工作台
    "console-cases": frozenset(),  # each sees the cases they may see
    "console-cases-export": frozenset(),
}  # fmt: skip

FORMS: dict[str, dict[str, str]] = {
    "console-case-do_route": {"team_id": "{key_projects}"},
    "console-case-do_reassign": {"inspector_id": "{inspector}"},
    "console-case-do_return": {"team_id": "0", "reason": "不属于本组职责范围。"},
    "console-case-do_ask": {"question": "请问施工单位是哪一家？"},
    "console-case-do_progress": {"note": "已联系有关部门。", "public": "1"},
    "console-case-do_extend": {"days": "5", "reason": "需等待会议研究。"},
    "console-case-do_resolve": {"outcome": "solved", "summary": "已协调解决。", "amount": "1000"},
    "console-case-do_supervise": {"note": "请尽快办理。"},
    "console-case-do_dispose": {"kind": "talk", "reason": "建议谈话函询。"},
    "console-case-do_review": {"proposal_id": "1", "agree": "1"},
    "console-case-do_supervision_reply": {"reply": "已约谈，本周内落实。"},
    "console-case-do_assist_add": {"team_id": "{key_projects}"},
    "console-case-do_assist_remove": {"team_id": "{key_projects}"},
    "console-case-do_assist_progress": {"note": "已调阅相关材料。"},
    "console-case-do_rectify": {"requirement": "限期返还配套费。", "unit": "住建局", "days": "10"},
    "console-case-do_verify": {"passed": "1", "note": "已核实整改到位。"},
    "console-case-do_withdraw_rectification": {"reason": "整改要求有误。"},
    "console-request-decide": {"approve": "1"},
    "console-people-invite-post": {"role": "inspector", "team": "business_env", "name": "孙监督"},
    "console-cards-print-post": {"zone": "", "unprinted": "1"},
}
PUBLIC = {"console-static", "console-login", "console-login-post", "console-code",
          "console-code-post", "console-reset", "console-reset-post"}  # fmt: skip
KEPT_OUT = {"console_sessions", "console_access_log", "rate_counters", "processed_updates"}
"""Tables that signing in and out change by design; everything else must stay as it was."""


@dataclass
class World:
    people: dict[str, SignedIn]
    values: dict[str, int | str]  # what fills a route's {placeholders} and forms

    def path(self, canonical: str, *, forged: bool = False) -> str:
        values = {**self.values, "case_id": 999_999} if forged else self.values
        return re.sub(r"\{(\w+)(?::[^}]*)?\}", lambda m: str(values.get(m.group(1), 1)), canonical)

    def form(self, name: str) -> dict[str, str]:
        return {k: v.format(**self.values) for k, v in FORMS.get(name, {}).items()}


async def snapshot(sessions: SessionFactory) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the sign-in's own, in a stable order."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    async with sessions() as session:
        for table in SQLModel.metadata.sorted_tables:
            if table.name in KEPT_OUT:
                continue
            result = await session.exec(sa_select(table))  # type: ignore[call-overload]
            rows[table.name] = sorted((tuple(row) for row in result.all()), key=repr)
    return rows


@pytest.fixture
async def world(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> AsyncIterator[World]:
    async with AsyncExitStack() as stack:
        people: dict[str, SignedIn] = {}
        for role, console_role, team in (
            ("inspector", "inspector", "business_env"),
            ("team_leader", "team_leader", "business_env"),
            ("outsider", "inspector", "key_projects"),
            ("dispatcher", "dispatcher", None),
            ("leader", "leader", None),
            ("admin", "admin", None),
        ):
            client = await stack.enter_async_context(console_app(sessions, catalog, clock=clock))
            people[role] = await sign_in(client, sessions, role=console_role, team=team)
        case = await report(sessions, catalog, calendar, clock.now())
        other = await report(sessions, catalog, calendar, clock.now(), telegram_user_id=7_000_002)
        assignee = people["inspector"].person
        assert case.assignee_id == assignee.id and other.assignee_id == assignee.id
        policy = Policy(catalog, calendar)
        async with sessions() as session:
            assert other.id is not None and case.id is not None
            await accept_case(session, assignee, other.id, policy=policy, now=clock.now())
            request = await request_extension(
                session, assignee, other.id, days=5, reason="需等待会议研究。", now=clock.now()
            )
            key_projects = await get_team_by_code(session, "key_projects")
        assert request.id is not None and key_projects.id is not None and assignee.id is not None
        yield World(
            people,
            {
                "case_id": case.id,
                "request_id": request.id,
                "key_projects": key_projects.id,
                "inspector": assignee.id,
                "attachment_id": 1,
                "card_id": 1,
                "inspector_id": assignee.id,
                "action": "revoke",
            },
        )


def console_routes(signed: SignedIn) -> list[tuple[str, str, str]]:
    """(method, canonical path, name) of every console route but the public ones."""
    return sorted(
        (route.method, route.resource.canonical, route.name)
        for route in signed.client.app.router.routes()
        if route.name
        and route.name.startswith("console-")
        and route.name not in PUBLIC
        and route.method in ("GET", "POST")
        and route.resource is not None
    )


async def _try(signed: SignedIn, method: str, path: str, data: dict[str, str]) -> int:
    if method == "POST":
        return (await signed.post(path, data)).status
    return (await signed.get(path)).status


async def test_every_console_route_says_who_must_be_refused_it(world: World) -> None:
    names = {name for _, _, name in console_routes(world.people["admin"])}
    assert names - set(REFUSED) == set(), "add the new route to REFUSED"


async def test_every_action_and_page_is_refused_to_whoever_it_is_not_for_and_nothing_changes(
    world: World, sessions: SessionFactory
) -> None:
    before = await snapshot(sessions)
    tried = []
    for method, canonical, name in console_routes(world.people["admin"]):
        for role in sorted(REFUSED.get(name, ())):
            status = await _try(world.people[role], method, world.path(canonical), world.form(name))
            tried.append((name, role, status))
    wrong = [(name, role, status) for name, role, status in tried if status != 403]
    assert not wrong, f"not refused with 403: {wrong}"
    assert len(tried) > 60
    assert await snapshot(sessions) == before


async def test_a_forged_case_id_is_not_found_and_changes_nothing(
    world: World, sessions: SessionFactory
) -> None:
    before = await snapshot(sessions)
    admin = world.people["admin"]
    for method, canonical, name in console_routes(admin):
        if "{case_id" not in canonical:
            continue
        path = world.path(canonical, forged=True)
        assert await _try(admin, method, path, world.form(name)) == 404, name
    assert await snapshot(sessions) == before


def _someone_else(world: World, role: str) -> SignedIn:
    return world.people["outsider" if role != "outsider" else "inspector"]


async def test_no_form_is_taken_without_its_csrf_token(
    world: World, sessions: SessionFactory
) -> None:
    before = await snapshot(sessions)
    for method, canonical, name in console_routes(world.people["admin"]):
        if method != "POST":
            continue
        allowed = [role for role in ROLES if role not in REFUSED.get(name, ())]
        for role in allowed:
            signed = world.people[role]
            answer = await signed.client.post(
                world.path(canonical), data=world.form(name), allow_redirects=False
            )
            assert answer.status == 403, (name, role)
            forged = await signed.client.post(
                world.path(canonical),
                data={**world.form(name), "csrf_token": _someone_else(world, role).csrf},
                allow_redirects=False,
            )
            assert forged.status == 403, (name, role, "another session's token")
    assert await snapshot(sessions) == before


async def test_after_signing_out_or_being_disabled_every_route_leads_to_the_sign_in_page(
    world: World, sessions: SessionFactory, clock: FrozenClock
) -> None:
    inspector, leader = world.people["inspector"], world.people["leader"]
    assert (await inspector.post("/console/logout")).status == 303
    async with sessions() as session:
        await disable_account(session, leader.account.username, clock.now())
    before = await snapshot(sessions)
    for method, canonical, name in console_routes(world.people["admin"]):
        for signed in (inspector, leader):
            answer = await (
                signed.post(world.path(canonical), world.form(name))
                if method == "POST"
                else signed.get(world.path(canonical))
            )
            assert answer.status == 303, (name, signed.account.username)
            assert answer.headers["Location"].startswith("/console/login"), name
    assert await snapshot(sessions) == before


async def test_a_clue_is_refused_on_every_case_route_to_all_but_its_team_leader_and_assignee(
    world: World,
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    clue = await report(
        sessions, catalog, calendar, clock.now(), category="soe_corruption",
        description="某国企负责人在设备采购中收受供应商好处费。", telegram_user_id=7_000_003,
    )  # fmt: skip
    assert clue.id is not None
    world.values["case_id"] = clue.id
    before = await snapshot(sessions)
    refused = []
    for method, canonical, name in console_routes(world.people["admin"]):
        if "{case_id" not in canonical:
            continue
        for role in ROLES:  # none of them leads the clue's team (国资国企) or holds it
            status = await _try(world.people[role], method, world.path(canonical), world.form(name))
            refused.append(status)
            assert status == 403, (name, role, status)
    assert len(refused) >= 6 * 10
    assert await snapshot(sessions) == before
