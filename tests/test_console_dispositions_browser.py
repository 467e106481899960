"""线索审批 in Chromium at 1366×768, JavaScript off: a 委领导 signs in with the password and the
code, finds the proposal that the team's only team leader made waiting for their review (待您审核),
agrees, and the page tells them it went to another 委领导. Screenshot:
``var/screenshots/console-dispositions-review.png``."""

from __future__ import annotations

import pytest

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.accounts import totp_now
from models.calendar import WorkCalendar
from models.disposition import Disposition
from tests.console_support import console_app, make_account
from tests.inspector_support import LEADER, SOE_LEADER
from tests.test_clue_dispositions import accepted_clue, second_leader
from tests.test_console_case_browser import SHOTS, signed_in_page
from tests.test_sandbox_page import CHROMIUM, CHROMIUM_ARGS, _need_browser

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


async def test_a_leader_reviews_the_only_team_leader_s_proposal_in_chromium(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    _need_browser()
    from playwright.async_api import async_playwright, expect

    clue = await accepted_clue(sessions, catalog, calendar, clock)
    await clue.to_team_leader()
    await second_leader(clue)
    await clue.propose(Disposition.HOLD, "线索反映内容较为笼统，暂不具备核查条件。", by=SOE_LEADER)
    account, _, secret = await make_account(sessions, clock, person=await clue.person(LEADER))
    assert secret is not None
    SHOTS.mkdir(parents=True, exist_ok=True)
    async with console_app(sessions, catalog, clock=clock) as desk:
        base = str(desk.make_url("/")).rstrip("/")
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await signed_in_page(
                    browser, base, account.username, code=totp_now(secret, clock.now())
                )
                await page.goto(f"{base}/console/dispositions")
                await expect(page.get_by_role("heading", name="待您审核")).to_be_visible()
                await expect(page.get_by_text("暂不具备核查条件")).to_be_visible()
                assert "宋利剑" not in await page.content()  # never the reporter
                await page.screenshot(
                    path=str(SHOTS / "console-dispositions-review.png"), full_page=True
                )
                await page.get_by_role("button", name="同意").first.click()
                await expect(page.get_by_role("status")).to_contain_text("已报其他委领导审批")
                await expect(page.get_by_role("heading", name="待您审核")).to_be_hidden()
            finally:
                await browser.close()
