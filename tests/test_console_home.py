"""工作台 in the office console, over real HTTP: my cases with the working days left, the team's
cases for its leader, what is overdue, the requests waiting for my decision, the notices of a
person without Telegram, and the queue's counts for leaders and admins."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.requests import request_extension
from models.calendar import WorkCalendar
from models.notification import Channel, Notice, Notification, RecipientKind
from models.team import Inspector
from tests.casework import accept
from tests.console_support import Client, console_app, make_account, sign_in, text_of
from tests.factories import make_inspector
from tests.test_case_search import NOW, World, make_world

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
async def world(sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar) -> World:
    return await make_world(sessions, catalog, calendar)


@pytest.fixture
async def client(
    sessions: SessionFactory, catalog: LiankaConfig, world: World
) -> AsyncIterator[Client]:
    async with console_app(sessions, catalog, clock=FrozenClock(NOW)) as test_client:
        yield test_client


async def _extension_asked(
    sessions: SessionFactory, config: LiankaConfig, calendar: WorkCalendar, world: World
) -> int:
    """李监督 signs for the refund case and asks for five more working days."""
    assert world.refund.id is not None
    await accept(sessions, config, calendar, world.refund.id, NOW - timedelta(hours=1))
    async with sessions() as session:
        person = await session.get(Inspector, world.inspector.id)
        assert person is not None
        request = await request_extension(
            session, person, world.refund.id, days=5, reason="需要调取土地台账", now=NOW
        )
        assert request.id is not None
        return request.id


@pytest.mark.both_databases
async def test_my_cases_show_the_working_days_left_and_what_is_overdue(
    client: Client, sessions: SessionFactory, world: World
) -> None:
    mine = await sign_in(client, sessions, person=world.inspector)
    page = await mine.get("/console/")
    text = text_of(await page.text())
    assert page.status == 200
    assert "我的案件 2件" in text
    assert world.refund.number in text and world.noise.number in text
    assert "签收： 已超期2个工作日" in text  # the refund case of 1 December, not signed for
    assert "签收：剩" in text or "签收：今日到期" in text
    assert "超期案件 1件" in text
    assert "本组案件" not in text and "案件总览" not in text


@pytest.mark.both_databases
async def test_the_team_leader_sees_the_request_waiting_for_their_decision(
    client: Client,
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    world: World,
) -> None:
    await _extension_asked(sessions, catalog, calendar, world)
    leader = await sign_in(client, sessions, person=world.team_leader)
    html = await (await leader.get("/console/")).text()
    text = text_of(html)
    assert "待我审批 1件" in text
    assert "延期5个工作日" in text and "李监督" in text and "需要调取土地台账" in text
    assert f'<a class="button" href="/console/cases/{world.refund.id}">去审批</a>' in html
    assert "本组案件（“营商环境”立项监督组） 2件" in text
    client.session.cookie_jar.clear()
    other = await sign_in(client, sessions, person=world.other_leader)
    assert "待我审批 0件" in text_of(await (await other.get("/console/")).text())


@pytest.mark.both_databases
async def test_a_person_without_telegram_reads_their_notices_on_the_workbench(
    client: Client, sessions: SessionFactory, world: World
) -> None:
    signed = await sign_in(client, sessions, role="inspector", team="business_env")
    person = signed.person
    assert person.chat_id is None
    async with sessions() as session:
        for n, number in enumerate((world.refund.number, world.noise.number)):
            session.add(
                Notification(
                    key=f"test-web-{n}",
                    case_id=world.refund.id,
                    kind="test",
                    channel=Channel.CONSOLE,
                    recipient_kind=RecipientKind.INSPECTOR,
                    recipient_id=person.id,
                    template="_plain",
                    params=dict(
                        Notice.of("_plain", text=f"问题 {number} 已分派给您，请及时签收。").params
                    ),
                    next_attempt_at=NOW,
                    created_at=NOW - timedelta(minutes=10 - n),
                )
            )
        await session.commit()
    html = await (await signed.get("/console/")).text()
    text = text_of(html)
    assert f"2026-12-04 11:51 问题 {world.noise.number} 已分派给您，请及时签收。" in text
    assert text.index(world.noise.number) < text.index(world.refund.number)  # newest first


@pytest.mark.both_databases
async def test_a_leader_sees_the_counts_of_the_whole_queue(
    client: Client, sessions: SessionFactory, world: World
) -> None:
    leader = await sign_in(client, sessions, person=world.leader)
    text = text_of(await (await leader.get("/console/")).text())
    assert "案件总览 3 全部案件 1 待分办 2 待签收 0 督办中" in text
    assert "“营商环境”立项监督组 2 0 1" in text  # open, done, overdue (the refund case)
    assert "我的案件 0件" in text


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_the_workbench_and_the_case_list_in_a_browser(
    client: Client,
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    world: World,
) -> None:
    from playwright.async_api import async_playwright

    from tests.console_support import PASSWORD
    from tests.test_sandbox_page import CHROMIUM, CHROMIUM_ARGS, _need_browser

    _need_browser()
    await _extension_asked(sessions, catalog, calendar, world)
    async with sessions() as session:
        await make_inspector(
            session, NOW, team_code="business_env", name="周监督", telegram_user_id=503
        )
    account, _, _ = await make_account(
        sessions, FrozenClock(NOW), person=world.team_leader, username="zengzu"
    )
    shots = ROOT / "var" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1366, "height": 768}, locale="zh-CN")
            await page.goto(str(client.make_url("/console/login")))
            await page.fill('input[name="username"]', account.username)
            await page.fill('input[name="password"]', PASSWORD)
            await page.click('button[type="submit"]')
            await page.goto(str(client.make_url("/console/")))
            assert await page.locator("h1").inner_text() == "工作台"
            await page.screenshot(path=str(shots / "console-home.png"))
            await page.goto(str(client.make_url("/console/cases")))
            await page.fill('input[name="q"]', "施工")
            await page.click('button:has-text("查询")')
            assert world.noise.number in await page.content()
            assert world.refund.number not in await page.content()
            await page.goto(str(client.make_url("/console/cases")))
            await page.screenshot(path=str(shots / "console-cases.png"))
        finally:
            await browser.close()
