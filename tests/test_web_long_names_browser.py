"""Long words on a phone, in a real headless Chromium (360×740, touch, zh-CN): a refused upload
with a long file name on 相关材料 and on 补充材料 stays inside a 360 px screen, and a staff
question keeps its line breaks on the tracking page. Screenshots in the test's folder:
``report-materials-long-name.png``, ``track-question-lines.png``,
``track-materials-long-name.png``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.acceptance import accept_case
from bot.services.policy import Policy
from bot.services.relay import ask_reporter
from bot.settings import Settings
from bot.web_app import create_standalone_web_app
from models.calendar import WorkCalendar
from tests.intake_helpers import REFUND, TOKEN, make_card
from tests.test_sandbox_page import CHROMIUM, CHROMIUM_ARGS, _need_browser
from tests.test_web_browser import PHONE
from tests.tracking_support import ACCEPTED, ANSWERED, ASKED, assignee, web_case

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
STEP_MS = 30_000
LONG_NAME = "scan_" + "0123456789" * 12 + ".jpg"  # one word of 129 letters: no place to break
NOT_A_PHOTO = b"MZ\x90\x00" * 64
QUESTION = "请补充以下两项：\n1. 土地出让合同编号；\n2. 管委会承诺返还的书面依据。"


async def fits(page: Any, shots: Path, name: str) -> None:
    """Nothing runs off the 360 px screen; a screenshot of the whole page."""
    await page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, (name, width)


async def test_long_file_names_stay_on_a_phone_screen_and_questions_keep_their_lines(
    tmp_path: Path,
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    _need_browser()
    from playwright.async_api import FilePayload, async_playwright, expect

    async with sessions() as session:
        await make_card(session, clock.now())
    web = await web_case(sessions, catalog, calendar)
    inspector = await assignee(sessions, web.id)
    async with sessions() as session:
        await accept_case(
            session, inspector, web.id, policy=Policy(catalog, calendar), now=ACCEPTED
        )
    async with sessions() as session:
        await ask_reporter(session, inspector, web.id, question=QUESTION, now=ASKED)
    clock.set(ANSWERED)
    settings = Settings(
        _env_file=None,
        web_secret="browser-test-secret-0123456789abcdefghij",
        var_dir=tmp_path / "var",
    )
    server = TestServer(create_standalone_web_app(settings, catalog, sessions, clock))
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    refused: FilePayload = {"name": LONG_NAME, "mimeType": "image/jpeg", "buffer": NOT_A_PHOTO}
    try:
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
                await page.get_by_label("相关材料").set_input_files([refused])
                await page.get_by_role("button", name="上传所选文件").tap()
                await expect(page.locator("#files-error")).to_contain_text(
                    "scan_0123456789", timeout=STEP_MS
                )
                await fits(page, tmp_path, "report-materials-long-name")

                await page.goto(f"{base}/t")
                await page.get_by_label("回执码").fill(web.code)
                await page.get_by_role("button", name="查询").tap()
                quote = page.locator(".quote")
                await expect(quote).to_be_visible(timeout=STEP_MS)
                assert await quote.inner_text() == QUESTION  # its line breaks kept
                note = page.locator(".timeline .note", has_text="土地出让合同编号")
                assert await note.inner_text() == QUESTION  # and in 办理进展
                await fits(page, tmp_path, "track-question-lines")

                await page.get_by_role("link", name="补充材料").tap()
                await page.get_by_label("上传文件").set_input_files([refused])
                await page.get_by_role("button", name="提交补充材料").tap()
                await expect(page.get_by_role("alert")).to_contain_text(
                    "scan_0123456789", timeout=STEP_MS
                )
                await fits(page, tmp_path, "track-materials-long-name")
            finally:
                await browser.close()
    finally:
        await server.close()
