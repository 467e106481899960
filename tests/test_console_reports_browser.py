"""报表, 日历 and 审计 in a real headless Chromium at 1366×768, signed in as a leader and an admin:
the pages render under the console's Content-Security-Policy (no script, no inline style, the
charts inline SVG) with nothing reported on the console. Screenshots:
``var/screenshots/console-reports.png``, ``console-calendar.png``, ``console-audit.png``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from models.calendar import WorkCalendar
from tests.conftest import ROOT
from tests.console_support import Client, console_app, sign_in
from tests.report_history import NOW, build_history
from tests.test_sandbox_page import CHROMIUM, CHROMIUM_ARGS, _need_browser

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
SHOTS = ROOT / "var" / "screenshots"
DESK = {"viewport": {"width": 1366, "height": 768}, "locale": "zh-CN"}


async def signed_in_context(
    browser: Any, client: Client, sessions: SessionFactory, role: str
) -> Any:
    """A browser context carrying the session cookie of ``role`` signed in through the form."""
    await sign_in(client, sessions, role=role, team=None)
    context = await browser.new_context(**DESK)
    base = str(client.make_url("/"))
    await context.add_cookies(
        [{"name": c.key, "value": c.value, "url": base} for c in client.session.cookie_jar]
    )
    client.session.cookie_jar.clear()
    return context


async def test_the_leader_s_report_the_calendar_and_the_audit_in_a_desktop_browser(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, tmp_path: Path
) -> None:
    _need_browser()
    from playwright.async_api import async_playwright, expect

    await build_history(sessions, catalog, calendar)
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    async with (
        console_app(sessions, catalog, clock=FrozenClock(NOW)) as client,
        async_playwright() as playwright,
    ):
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            leader = await signed_in_context(browser, client, sessions, "leader")
            page = await leader.new_page()
            page.on("console", lambda message: errors.append(message.text))
            await page.goto(str(client.make_url("/console/reports")))
            await page.get_by_label("统计周期").select_option(label="上月")
            await page.get_by_role("button", name="生成").click()
            await expect(page.get_by_text("共受理企业反映问题7件").first).to_be_visible()
            await expect(page.locator("figure.chart svg")).to_have_count(3)
            await page.screenshot(path=str(SHOTS / "console-reports.png"))
            await page.screenshot(path=str(tmp_path / "reports-full.png"), full_page=True)

            admin = await signed_in_context(browser, client, sessions, "admin")
            page = await admin.new_page()
            page.on("console", lambda message: errors.append(message.text))
            await page.goto(str(client.make_url("/console/calendar?year=2026")))
            await expect(page.get_by_text("法定节假日").first).to_be_visible()
            await page.screenshot(path=str(SHOTS / "console-calendar.png"))
            await page.screenshot(path=str(tmp_path / "calendar-full.png"), full_page=True)

            await page.goto(str(client.make_url("/console/audit")))
            await page.get_by_role("button", name="开始核验").click()
            # the check's own process: at once, or after the page's refresh on a busy machine
            await expect(page.get_by_text("核验通过")).to_be_visible(timeout=20_000)
            await expect(page.locator(".main h2")).to_have_text(
                ["流转记录核验", "身份查看记录", "登录记录"]
            )
            await page.screenshot(path=str(SHOTS / "console-audit.png"))
        finally:
            await browser.close()
    assert errors == []
