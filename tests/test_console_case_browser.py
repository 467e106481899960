"""The 案件 page in a real headless Chromium at 1366×768, with no script: the assignee signs in,
signs for a case, records progress and reads the page; printed, it is the case's 登记表.
Screenshots: ``var/screenshots/console-case.png`` and ``console-case-print.png``, and the
printed page as ``console-case-print.pdf``."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PIL import Image, ImageDraw

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from models.attachment import Attachment, MediaKind
from models.calendar import WorkCalendar
from models.case import Case
from models.event import ActorType
from models.team import Inspector
from tests.console_support import PASSWORD, console_app, make_account
from tests.inspector_support import INSPECTOR, make_people, submit
from tests.test_sandbox_page import CHROMIUM, CHROMIUM_ARGS, _need_browser
from web.console.context import CONSOLE

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "var" / "screenshots"
STEP_MS = 30_000


def site_photo() -> bytes:
    """A small photo of a site, as a reporter's phone would send it (PNG, cleaned)."""
    img = Image.new("RGB", (480, 320), (205, 214, 224))
    draw = ImageDraw.Draw(img)
    draw.rectangle((40, 160, 440, 300), fill=(120, 130, 140))
    draw.rectangle((80, 60, 220, 160), fill=(170, 90, 60))
    draw.ellipse((330, 30, 400, 100), fill=(240, 200, 80))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


async def signed_in_page(
    browser: Browser, base: str, username: str, *, code: str | None = None
) -> Page:
    """A 1366×768 office screen without JavaScript, signed in through the login form (and the
    code form, given the authenticator's ``code``)."""
    page = await browser.new_page(
        viewport={"width": 1366, "height": 768}, locale="zh-CN", java_script_enabled=False
    )
    page.set_default_timeout(STEP_MS)
    await page.goto(f"{base}/console/login")
    await page.get_by_label("用户名").fill(username)
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    if code is not None:
        await page.get_by_label("动态验证码").fill(code)
        await page.get_by_role("button", name="验证").click()
    await page.wait_for_url(lambda url: "/console/login" not in url)
    return page


async def _prepared_case(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> tuple[Case, Inspector]:
    people = await make_people(sessions, clock)
    case = await submit(sessions, catalog, calendar, clock, people.reporter, named=True)
    assert case.id is not None
    async with sessions() as session:
        inspector = await session.get(Inspector, people.id(INSPECTOR))
        assert inspector is not None and case.assignee_id == inspector.id
    return case, inspector


async def test_the_case_page_in_chromium_signs_for_a_case_records_progress_and_prints(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    _need_browser()
    from playwright.async_api import async_playwright, expect

    case, inspector = await _prepared_case(sessions, catalog, calendar, clock)
    assert case.id is not None
    SHOTS.mkdir(parents=True, exist_ok=True)
    async with console_app(sessions, catalog, clock=clock) as desk:
        sha = await desk.app[CONSOLE].blobs.put(site_photo())
        async with sessions() as session:
            session.add(
                Attachment(
                    case_id=case.id,
                    kind=MediaKind.PHOTO,
                    blob_sha256=sha,
                    file_name="现场照片.png",
                    mime_type="image/png",
                    added_by=ActorType.REPORTER,
                    created_at=clock.now(),
                )
            )
            await session.commit()
        account, _, _ = await make_account(sessions, clock, person=inspector)
        base = str(desk.make_url("/")).rstrip("/")
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await signed_in_page(browser, base, account.username)
                await page.goto(f"{base}/console/cases/{case.id}")
                await expect(page.get_by_role("heading", name=case.number)).to_be_visible()

                await page.get_by_role("button", name="签收").click()
                await expect(page.get_by_role("status")).to_contain_text("已签收")
                await page.get_by_text("记录进展", exact=True).first.click()  # <summary>
                await page.get_by_label("办理进展（1000字以内）").fill(
                    "已约谈经开区管委会财政局，承诺本月底前返还首笔资金。"
                )
                await page.get_by_label("告知反映人").check()
                await page.get_by_role("button", name="记录进展").click()
                await expect(page.get_by_role("status")).to_contain_text("办理进展已记录")
                await expect(page.get_by_text("承诺本月底前返还首笔资金")).to_be_visible()
                photo = page.get_by_role("img", name="现场照片.png")
                await expect(photo).to_be_visible()
                width = await photo.evaluate("img => img.naturalWidth")
                assert width == 480  # the file route served the picture
                assert "13812345678" not in await page.content()
                await page.screenshot(path=str(SHOTS / "console-case.png"), full_page=True)

                await page.emulate_media(media="print")
                await expect(page.get_by_text("廉政监督联系卡问题登记表")).to_be_visible()
                await expect(page.get_by_role("button", name="查看身份")).to_be_hidden()
                await page.screenshot(path=str(SHOTS / "console-case-print.png"), full_page=True)
                await page.pdf(path=str(SHOTS / "console-case-print.pdf"), format="A4")

                # a wrong number of days: the page again, the message and the reason kept
                await page.emulate_media(media="screen")
                await page.get_by_text("申请延期", exact=True).first.click()  # <summary>
                await page.get_by_label("延期工作日数（1至30）").fill("99")
                await page.get_by_label("延期理由").fill("需等待财政局书面答复。")
                await page.get_by_role("button", name="提交延期申请").click()
                await expect(page.get_by_role("alert")).to_contain_text("延期天数应为1至30个工作日")
                await expect(page.get_by_label("延期理由")).to_have_value("需等待财政局书面答复。")
            finally:
                await browser.close()
    assert (SHOTS / "console-case-print.pdf").read_bytes().startswith(b"%PDF-")
