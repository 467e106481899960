"""A phone (360 px, JavaScript off, Chromium) in the middle of a report through one card opens
another card's report page, as a link from anywhere would: the report is kept, and the page asks
继续填写 or 放弃并重新开始. 继续填写 goes back with what was entered; 放弃并重新开始 starts afresh
through the other card. Screenshot: ``var/screenshots/web-report-elsewhere.png``."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from tests.intake_helpers import REFUND, TOKEN
from tests.test_sandbox_page import CHROMIUM, CHROMIUM_ARGS, _need_browser
from tests.test_web_browser import PHONE
from tests.test_web_report_guards import OTHER, OTHER_ENTERPRISE, three_cards, web_app

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
SHOTS = Path(__file__).resolve().parents[1] / "var" / "screenshots"


async def test_a_phone_opening_another_card_keeps_the_report_it_is_entering(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock, tmp_path: Path
) -> None:
    _need_browser()
    from playwright.async_api import async_playwright, expect

    await three_cards(sessions, clock)
    SHOTS.mkdir(parents=True, exist_ok=True)
    async with TestServer(web_app(sessions, catalog, clock, tmp_path)) as server:
        base = str(server.make_url("/")).rstrip("/")
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                phone = await browser.new_context(**PHONE, java_script_enabled=False)  # type: ignore[arg-type]
                page = await phone.new_page()
                await page.goto(f"{base}/c/{TOKEN}/report")
                await page.get_by_role("radio").first.check()
                await page.get_by_role("button", name="下一步").tap()
                await page.get_by_label("问题描述").fill(REFUND)
                await page.get_by_role("button", name="下一步").tap()
                await expect(page.get_by_label("相关材料")).to_be_visible()

                await page.goto(f"{base}/c/{OTHER}/report")  # a link from anywhere
                await expect(
                    page.get_by_role("heading", name="您有一份尚未提交的反映")
                ).to_be_visible()
                await expect(page.get_by_text(OTHER_ENTERPRISE)).to_be_visible()
                await page.screenshot(path=str(SHOTS / "web-report-elsewhere.png"), full_page=True)
                assert await page.evaluate("document.documentElement.scrollWidth") <= 360

                await page.get_by_role("link", name="继续填写").tap()
                await expect(page.get_by_label("相关材料")).to_be_visible()  # where it was
                await page.get_by_role("button", name="上一步").tap()
                await expect(page.get_by_label("问题描述")).to_have_value(REFUND)

                await page.goto(f"{base}/c/{OTHER}/report")
                await page.get_by_role("button", name="放弃并重新开始").tap()
                await expect(page.get_by_role("group", name="问题类别")).to_be_visible()
                await expect(page.get_by_text(OTHER_ENTERPRISE)).to_be_visible()
                await page.goto(f"{base}/c/{TOKEN}/report")  # the one kept now is the new one
                await expect(
                    page.get_by_role("heading", name="您有一份尚未提交的反映")
                ).to_be_visible()
            finally:
                await browser.close()
