"""The admin's 联系卡 and 人员 pages in a real headless Chromium at 1366×768: sign in with the
TOTP code, check a CSV with bad lines, import the good rows, download the print file, invite an
inspector. Screenshots to ``var/screenshots/console-cards.png``, ``console-cards-import.png``,
``console-people.png`` and ``console-invite.png``."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from sqlmodel import select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.accounts import totp_now
from models.card import Card
from tests.casework import make_staff
from tests.console_support import PASSWORD, console_app, make_account
from tests.test_console_cards import BAD
from tests.test_sandbox_page import CHROMIUM, CHROMIUM_ARGS, _need_browser

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "var" / "screenshots"
STEP_MS = 60_000


async def test_the_admin_imports_a_list_prints_it_and_invites_an_inspector_in_a_browser(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock, tmp_path: Path
) -> None:
    _need_browser()
    from playwright.async_api import async_playwright, expect

    SHOTS.mkdir(parents=True, exist_ok=True)
    async with sessions() as session:
        await make_staff(session, clock.now())
    account, _, secret = await make_account(sessions, clock, role="admin", team=None)
    assert secret is not None
    csv_file = tmp_path / "企业名单.csv"
    csv_file.write_bytes(BAD.encode("gbk"))
    async with (
        console_app(sessions, catalog, clock=clock) as client,
        async_playwright() as playwright,
    ):
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(
            viewport={"width": 1366, "height": 768}, locale="zh-CN", accept_downloads=True
        )
        context.set_default_timeout(STEP_MS)
        page = await context.new_page()
        await page.goto(str(client.make_url("/console/login")))
        await page.get_by_label("用户名").fill(account.username)
        await page.get_by_label("密码").fill(PASSWORD)
        await page.get_by_role("button", name="登录").click()
        await page.get_by_label("动态验证码").fill(totp_now(secret, clock.now()))
        await page.get_by_role("button", name="验证").click()

        await page.goto(str(client.make_url("/console/cards/import")))
        await page.get_by_label("导入文件（CSV）").set_input_files(str(csv_file))
        await page.get_by_role("button", name="检查").click()
        await expect(page.get_by_text("统一社会信用代码校验位不正确")).to_be_visible()
        await expect(page.get_by_text("第 4 行")).to_be_visible()
        await page.screenshot(path=str(SHOTS / "console-cards-import.png"), full_page=True)
        async with sessions() as session:
            assert (await session.exec(select(Card))).all() == []
        await page.get_by_role("button", name="仅导入无误的行（1 行）").click()
        await expect(page.get_by_text("发卡 1 张")).to_be_visible()

        async with page.expect_download() as download_info:
            await page.get_by_role("button", name="下载打印文件（PDF）").click()
        download = await download_info.value
        saved = tmp_path / "cards.pdf"
        await download.save_as(str(saved))
        assert saved.read_bytes().startswith(b"%PDF")

        await page.goto(str(client.make_url("/console/cards")))
        await expect(page.get_by_role("cell", name="安居甲公司")).to_be_visible()
        await page.screenshot(path=str(SHOTS / "console-cards.png"), full_page=True)
        await page.get_by_role("link", name="安居甲公司").click()
        await expect(page.locator(".qr svg")).to_be_visible()
        await page.screenshot(path=str(SHOTS / "console-card.png"), full_page=True)

        await page.get_by_role("link", name="人员").first.click()
        await expect(page.get_by_text("李监督")).to_be_visible()
        await page.screenshot(path=str(SHOTS / "console-people.png"), full_page=True)

        await page.get_by_role("link", name="邀请监督员").click()
        await page.get_by_label("角色").select_option("inspector")
        await page.get_by_label("团队").select_option("business_env")
        await page.get_by_label("姓名").fill("孙监督")
        await page.get_by_role("button", name="生成邀请链接").click()
        await expect(page.get_by_text("只显示这一次")).to_be_visible()
        await expect(page.locator(".qr svg")).to_be_visible()
        await page.screenshot(path=str(SHOTS / "console-invite.png"), full_page=True)
        shown = await page.locator(".invite-link a").inner_text()
        qr_image = Image.open(io.BytesIO(await page.locator(".qr svg").screenshot()))
        assert [code.text for code in zxingcpp.read_barcodes(qr_image)] == [shown]
        await browser.close()
    async with sessions() as session:
        printed = (await session.exec(select(Card.printed_count))).all()
    assert list(printed) == [1]
