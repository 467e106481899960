"""``/t`` on a phone, in a real headless Chromium (360×740, touch, zh-CN): a web report an
inspector has asked a question on; the reporter opens ``/t``, types a wrong code and then the
receipt code, reads the question and answers it. Screenshots in the test's folder:
``track-form.png``, ``track-wrong-code.png``, ``track-case-question.png``,
``track-case-answered.png``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from bot.app import create_standalone_web_app
from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.settings import Settings
from models.calendar import WorkCalendar
from models.relay import RelayMessage, RelayStatus
from tests.test_sandbox_page import CHROMIUM, CHROMIUM_ARGS, _need_browser
from tests.test_web_browser import PHONE
from tests.tracking_support import ANSWERED, QUESTION, asked, web_case

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
STEP_MS = 30_000
PAGE_LIMIT = 100_000
ANSWER = "合同编号 AJ-JKQ-2024-017，落款为安居经开区管委会。"


async def test_a_phone_answers_the_inspectors_question_on_the_tracking_page(
    tmp_path: Path,
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    _need_browser()
    from playwright.async_api import async_playwright, expect

    web = await web_case(sessions, catalog, calendar)
    relay = await asked(sessions, catalog, calendar, web)
    clock.set(ANSWERED)
    settings = Settings(_env_file=None, web_secret="browser-test-secret-0123456789abcdefghij")
    server = TestServer(create_standalone_web_app(settings, catalog, sessions, clock))
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    sizes: dict[str, int] = {}
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                phone = await browser.new_context(**PHONE)  # type: ignore[arg-type]
                page = await phone.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.on("console", lambda message: errors.append(message.text))

                async def measured(response: Any) -> None:
                    if response.request.resource_type in ("document", "stylesheet", "image"):
                        body = await response.body() if response.status < 300 else b""
                        sizes[response.url] = sizes.get(response.url, 0) + len(body)

                page.on("response", measured)

                await page.goto(f"{base}/t")
                await expect(page.get_by_role("heading", name="查询进展")).to_be_visible()
                code_box = page.get_by_label("回执码")
                query = page.get_by_role("button", name="查询")
                for target in (code_box, query):
                    box = await target.bounding_box()
                    assert box is not None and box["height"] >= 44 and box["width"] >= 300
                await page.screenshot(path=str(tmp_path / "track-form.png"), full_page=True)

                await code_box.fill("2222-3333-4444")
                await query.tap()
                await expect(page.get_by_role("alert")).to_contain_text("未找到该回执码")
                await page.screenshot(path=str(tmp_path / "track-wrong-code.png"), full_page=True)

                await page.get_by_label("回执码").fill(web.code.lower())
                await page.get_by_role("button", name="查询").tap()
                await expect(page.get_by_role("heading", name=web.case.number)).to_be_visible(
                    timeout=STEP_MS
                )
                assert page.url == f"{base}/t/case"  # the code is in no address
                await expect(page.get_by_text(QUESTION).first).to_be_visible()
                width = await page.evaluate("document.documentElement.scrollWidth")
                assert width <= 360  # nothing runs off a 360 px screen
                await page.screenshot(
                    path=str(tmp_path / "track-case-question.png"), full_page=True
                )

                await page.get_by_label("您的答复").fill(ANSWER)
                await page.get_by_role("button", name="提交答复").tap()
                await expect(page.get_by_role("status")).to_have_text(
                    "您的答复已转达办理人员。", timeout=STEP_MS
                )
                await expect(page.get_by_role("button", name="提交答复")).to_have_count(0)
                assert page.url == f"{base}/t/case?done=answered"
                await page.screenshot(
                    path=str(tmp_path / "track-case-answered.png"), full_page=True
                )
                assert [e for e in errors if "404" not in e] == []  # the wrong code's page
            finally:
                await browser.close()
    finally:
        await server.close()
    async with sessions() as session:
        stored = await session.get(RelayMessage, relay.id)
    assert stored is not None and stored.status is RelayStatus.ANSWERED
    assert stored.answer == ANSWER
    documents = [size for url, size in sizes.items() if "/static/" not in url]
    assert documents and max(documents) < PAGE_LIMIT
    assert sum(sizes.values()) < PAGE_LIMIT * 2
    for name in ("track-form", "track-wrong-code", "track-case-question", "track-case-answered"):
        assert (tmp_path / f"{name}.png").stat().st_size > 0
