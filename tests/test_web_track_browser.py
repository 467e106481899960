"""``/t`` on a phone, in a real headless Chromium (360×740, touch, zh-CN): a web report an
inspector has asked a question on; the reporter opens ``/t``, types a wrong code and then the
receipt code, reads the question and answers it, then adds materials (补充材料: a photo, a
program renamed ``.jpg`` that is refused and named, and a note). Screenshots in the test's
folder: ``track-form.png``, ``track-wrong-code.png``, ``track-case-question.png``,
``track-case-answered.png``, ``track-materials.png``, ``track-materials-partial.png``,
``track-case-material.png``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from sqlmodel import select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.settings import Settings
from bot.web_app import create_standalone_web_app
from models.attachment import Attachment
from models.calendar import WorkCalendar
from models.relay import RelayMessage, RelayStatus
from tests.test_filecheck import photo_with_gps
from tests.test_sandbox_page import CHROMIUM, CHROMIUM_ARGS, _need_browser
from tests.test_web_browser import PHONE
from tests.tracking_support import ANSWERED, QUESTION, asked, web_case

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
STEP_MS = 30_000
PAGE_LIMIT = 100_000
ANSWER = "合同编号 AJ-JKQ-2024-017，落款为安居经开区管委会。"
NOTE = "补充管委会2023年会议纪要的照片，纪要写明年底前返还。"
SCREENS = (
    "track-form",
    "track-wrong-code",
    "track-case-question",
    "track-case-answered",
    "track-materials",
    "track-materials-partial",
    "track-case-material",
)


async def add_materials(page: Any, base: str, shots: Path) -> None:
    """补充材料 from the case page: a photo and a program renamed .jpg, with a note; the
    program is named as refused, the photo and the note sent."""
    from playwright.async_api import expect

    await page.get_by_role("link", name="补充材料").tap()
    await expect(page.get_by_role("heading", name="补充材料")).to_be_visible(timeout=STEP_MS)
    assert page.url == f"{base}/t/case/materials"
    submit = page.get_by_role("button", name="提交补充材料")
    box = await submit.bounding_box()
    assert box is not None and box["height"] >= 44 and box["width"] >= 280  # inside its panel
    files = await page.get_by_label("上传文件").bounding_box()
    assert files is not None and files["height"] >= 44  # a touch target, not a small grey chip
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    await page.screenshot(path=str(shots / "track-materials.png"), full_page=True)
    await page.get_by_label("补充说明（选填）").fill(NOTE)
    await page.get_by_label("上传文件").set_input_files(
        [
            {"name": "纪要.jpg", "mimeType": "image/jpeg", "buffer": photo_with_gps()},
            {"name": "setup.jpg", "mimeType": "image/jpeg", "buffer": b"MZ\x90\x00" * 64},
        ]
    )
    await submit.tap()
    await expect(page.get_by_role("status")).to_contain_text(
        "补充附件1个和文字说明", timeout=STEP_MS
    )
    await expect(page.get_by_role("alert")).to_contain_text("setup.jpg")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 360
    await page.screenshot(path=str(shots / "track-materials-partial.png"), full_page=True)
    await page.get_by_role("link", name="返回查询页面").tap()
    await expect(page.get_by_text("补充材料").first).to_be_visible(timeout=STEP_MS)
    await page.screenshot(path=str(shots / "track-case-material.png"), full_page=True)


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
    settings = Settings(
        _env_file=None,
        web_secret="browser-test-secret-0123456789abcdefghij",
        var_dir=tmp_path / "var",
    )
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
                await add_materials(page, base, tmp_path)
                assert [e for e in errors if "404" not in e] == []  # the wrong code's page
            finally:
                await browser.close()
    finally:
        await server.close()
    async with sessions() as session:
        stored = await session.get(RelayMessage, relay.id)
    assert stored is not None and stored.status is RelayStatus.ANSWERED
    assert stored.answer == ANSWER
    async with sessions() as session:
        files = (await session.exec(select(Attachment).where(Attachment.case_id == web.id))).all()
    # an anonymous report's file keeps no name from the phone (staff see 材料N)
    assert [(f.kind.value, f.file_name) for f in files] == [("photo", None)]
    documents = [size for url, size in sizes.items() if "/static/" not in url]
    assert documents and max(documents) < PAGE_LIMIT
    assert sum(sizes.values()) < PAGE_LIMIT * 2
    for name in SCREENS:
        assert (tmp_path / f"{name}.png").stat().st_size > 0
