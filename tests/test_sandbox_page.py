"""The sandbox page in a real headless Chromium: a person picks who they are, opens the card's
link, taps a button, types, and sees the bot's answers, with nothing the bot sends run as HTML."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from sandbox.runner import Sandbox, SandboxOptions

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
REQUIRE_SERVICES = os.environ.get("LIANKA_REQUIRE_SERVICES") == "1"
# Only to stop a hang: Chromium on a busy machine is slow to show what the bot sent.
STEP_MS = 60_000


def _need_browser() -> None:
    reason = None
    if shutil.which(CHROMIUM) is None:
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
    else:
        try:
            import playwright.async_api  # noqa: F401
        except ImportError:
            reason = "playwright is not installed (make setup-dev)"
    if reason is None:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason}; LIANKA_REQUIRE_SERVICES=1 makes this a failure")
    pytest.skip(reason)


def greeter() -> Router:
    """A stand-in for Lianka's start journey."""
    router = Router(name="page-greeter")

    @router.message(CommandStart())
    async def cmd_start(message: Message, command: CommandObject) -> None:
        await message.answer(
            f"<b>安居经开区纪工委</b>欢迎您。卡片：<code>{command.args}</code>",
            reply_markup=InlineKeyboardMarkup(
                inline_keyboard=[[InlineKeyboardButton(text="反映问题", callback_data="report")]]
            ),
        )

    @router.callback_query(F.data == "report")
    async def on_report(query: CallbackQuery) -> None:
        assert isinstance(query.message, Message)
        await query.message.edit_text("请用文字描述您要反映的问题。")
        await query.answer("已开始反映")

    @router.message(F.text)
    async def on_text(message: Message) -> None:
        # Escaped as a template would: the page must show it as text, not as markup.
        await message.answer(f"已收到：<i>{message.html_text}</i>")

    return router


@pytest.fixture
async def sandbox_with_bot() -> AsyncIterator[Sandbox]:
    async with Sandbox(SandboxOptions(port=0, api_port=0)) as sandbox:
        bot = Bot(
            sandbox.bot_token,
            session=AiohttpSession(api=TelegramAPIServer.from_base(sandbox.api_base)),
            default=DefaultBotProperties(parse_mode=ParseMode.HTML),
        )
        dispatcher = Dispatcher()
        dispatcher.include_router(greeter())
        polling = asyncio.create_task(
            dispatcher.start_polling(bot, polling_timeout=1, handle_signals=False)
        )
        try:
            yield sandbox
        finally:
            await dispatcher.stop_polling()
            await polling


@pytest.mark.timeout(300)
async def test_a_reporter_opens_the_card_taps_a_button_and_writes_in_the_browser(
    sandbox_with_bot, tmp_path
):
    _need_browser()
    from playwright.async_api import async_playwright, expect

    sandbox = sandbox_with_bot
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 1100, "height": 720})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            await page.goto(sandbox.page_url)

            await page.get_by_role("button", name="王立新").click()
            await page.get_by_role("button", name="扫描联系卡并开始").click()
            greeting = page.locator(".row.in .text").first
            await expect(greeting).to_have_text(
                "安居经开区纪工委欢迎您。卡片：c_sandboxDemoCard0001",
                timeout=STEP_MS,
            )
            await expect(greeting.locator("b")).to_have_text("安居经开区纪工委", timeout=STEP_MS)

            await page.get_by_role("button", name="反映问题").click()
            await expect(greeting).to_have_text("请用文字描述您要反映的问题。", timeout=STEP_MS)
            await expect(page.locator("#toast")).to_have_text("已开始反映", timeout=STEP_MS)
            await expect(page.get_by_role("button", name="反映问题")).to_have_count(
                0, timeout=STEP_MS
            )

            await page.locator("#input").fill("<img src=x onerror=alert(1)> 工程款拖欠")
            await page.locator("#input").press("Enter")
            echo = page.locator(".row.in .text").last
            await expect(echo).to_have_text(
                "已收到：<img src=x onerror=alert(1)> 工程款拖欠", timeout=STEP_MS
            )
            await expect(echo.locator("i")).to_have_count(1, timeout=STEP_MS)
            await expect(page.locator(".messages img")).to_have_count(0, timeout=STEP_MS)

            await page.set_viewport_size({"width": 390, "height": 720})
            await page.screenshot(path=str(tmp_path / "phone.png"))
            await expect(page.locator("#back")).to_be_visible(timeout=STEP_MS)
            assert errors == []
        finally:
            await browser.close()

    reporter = sandbox.emulator.user(7100001)
    assert [m.text for m in reporter.messages if not m.from_bot] == [
        "/start c_sandboxDemoCard0001",
        "<img src=x onerror=alert(1)> 工程款拖欠",
    ]
