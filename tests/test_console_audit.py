"""审计 in the office console: 开始核验 recomputes every case's chain (in the background:
tests/test_console_audit_runs.py) and names the case whose history was edited; 身份查看记录
lists who saw a reporter's identity, when and in which case (never the identity); only admins
and leaders may read it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.anchors import anchor_path, write_anchor
from bot.services.intake import submit_case
from bot.services.materials import view_materials
from bot.services.policy import Policy
from bot.settings import Settings
from models.calendar import WorkCalendar
from models.case import Case
from models.intake import CaseDraft
from tests.audit_support import tamper
from tests.casework import REFUND, Staff, make_staff, report, sh
from tests.console_support import SECRET, Client, console_app, csrf_of, sign_in, text_of
from tests.factories import make_reporter

NOW = sh(2026, 11, 10, 10)


@pytest.fixture
async def client(sessions: SessionFactory, catalog: LiankaConfig) -> AsyncIterator[Client]:
    async with console_app(sessions, catalog, clock=FrozenClock(NOW)) as test_client:
        yield test_client


@pytest.fixture
async def staff(sessions: SessionFactory) -> Staff:
    async with sessions() as session:
        return await make_staff(session, sh(2026, 11, 2, 9))


async def named_appeal(
    sessions: SessionFactory, config: LiankaConfig, calendar: WorkCalendar
) -> Case:
    async with sessions() as session:
        reporter = await make_reporter(session, sh(2026, 11, 3, 9), telegram_user_id=7_000_002)
        result = await submit_case(
            session,
            reporter,
            CaseDraft(
                category_code="business_env",
                description=REFUND,
                anonymous=False,
                contact_name="宋利剑",
                contact_phone="13812345678",
            ),
            policy=Policy(config, calendar),
            now=sh(2026, 11, 3, 9),
        )
    return result.case


@pytest.mark.both_databases
async def test_verification_passes_then_names_the_case_whose_event_was_edited(
    client: Client,
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    staff: Staff,
) -> None:
    first = await report(sessions, catalog, calendar, sh(2026, 11, 3, 9))
    second = await report(
        sessions, catalog, calendar, sh(2026, 11, 4, 9), telegram_user_id=7_000_003
    )
    admin = await sign_in(client, sessions, role="admin", team=None)
    started = await admin.post("/console/audit/verify")
    assert started.status == 303 and started.headers["Location"] == "/console/audit"
    page = text_of(await (await admin.get("/console/audit")).text())
    assert "核验通过：2件问题、" in page and "条流转记录均完整" in page
    assert "本次核验的服务器不保存审计锚点，未与锚点核对" in page
    assert f"最近一次核验：{admin.person.name}于2026-11-10 10:00开始" in page

    async with sessions() as session:
        await tamper(
            session,
            "UPDATE case_events SET data = '{\"evidence\": 9}' "
            f"WHERE case_id = {second.id} AND seq = 1",
        )
        await session.commit()
    await admin.post("/console/audit/verify")
    tampered = text_of(await (await admin.get("/console/audit")).text())
    assert "核验发现1处问题" in tampered
    assert f"{second.number} 第1条 内容被改动：哈希值不符" in tampered
    assert first.number not in tampered


async def test_on_the_anchoring_server_verification_checks_the_daily_anchors_too(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    staff: Staff,
    tmp_path: Path,
) -> None:
    await report(sessions, catalog, calendar, sh(2026, 11, 3, 9))
    async with sessions() as session:
        await write_anchor(session, anchor_path(tmp_path), sh(2026, 11, 4, 9))
        await session.commit()
    settings = Settings(_env_file=None, web_secret=SECRET, var_dir=tmp_path)
    async with console_app(sessions, catalog, clock=FrozenClock(NOW), settings=settings) as app:
        admin = await sign_in(app, sessions, role="admin", team=None)
        await admin.post("/console/audit/verify")
        page = text_of(await (await admin.get("/console/audit")).text())
    assert "核验通过：1件问题、" in page
    assert "已与1个每日审计锚点核对，最新锚点为2026-11-04。" in page


async def test_an_identity_view_is_listed_with_who_when_and_the_case_only(
    client: Client,
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    staff: Staff,
) -> None:
    case = await named_appeal(sessions, catalog, calendar)
    assert case.id is not None
    async with sessions() as session:
        await view_materials(session, staff.inspector, case.id, now=sh(2026, 11, 5, 14, 30))
    leader = await sign_in(client, sessions, role="leader", team=None)
    page = await leader.get("/console/audit")
    html = await page.text()
    assert page.status == 200, html
    assert f"2026-11-05 14:30 李监督 监督员 {case.number}" in text_of(html)
    assert "宋利剑" not in html and "13812345678" not in html


async def test_the_sign_in_log_shows_sign_ins_and_failures_newest_first(
    client: Client, sessions: SessionFactory
) -> None:
    page = await client.get("/console/login")
    await client.post(
        "/console/login",
        data={"csrf_token": csrf_of(await page.text()), "username": "nobody", "password": "x"},
        allow_redirects=False,
    )
    admin = await sign_in(client, sessions, role="admin", team=None)
    text = text_of(await (await admin.get("/console/audit")).text())
    assert "登录记录" in text
    signed_in = f"登录 {admin.account.username} {admin.person.name}"
    failed = "登录失败 （无此账号）"
    assert signed_in in text and failed in text
    assert text.index(signed_in) < text.index(failed)
    assert "nobody" not in text


@pytest.mark.parametrize(
    ("role", "team"),
    [("inspector", "business_env"), ("team_leader", "business_env"), ("dispatcher", "dispatch")],
)
async def test_others_are_refused(
    client: Client, sessions: SessionFactory, role: str, team: str
) -> None:
    person = await sign_in(client, sessions, role=role, team=team)
    for answer in (await person.get("/console/audit"), await person.post("/console/audit/verify")):
        assert answer.status == 403
        assert "审计记录仅向管理员和委领导提供" in text_of(await answer.text())
