"""The control API (``/_sandbox/…``) lets a test in another process act as Telegram users."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)
from click.testing import CliRunner

from bot.cli import main
from sandbox import BotSpec, Emulator
from sandbox.personas import DEFAULT_PERSONAS, Persona, parse_persona
from sandbox.runner import SandboxOptions, run_sandbox

TOKEN = "4444:sandbox-control-token"


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator(bots=[BotSpec(TOKEN, "ControlBot")], personas=DEFAULT_PERSONAS) as running:
        yield running


@pytest.fixture
async def bot(emulator) -> AsyncIterator[Bot]:
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url)))
    yield bot
    await bot.session.close()


@pytest.fixture
async def http(emulator) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=emulator.base_url) as session:
        yield session


async def call(http: aiohttp.ClientSession, path: str, status: int = 200, **payload: Any) -> Any:
    async with http.post(f"/_sandbox/{path}", json=payload) as response:
        body = await response.json()
        assert response.status == status, body
        return body


async def test_personas_are_users_ready_to_act(http):
    async with http.get("/_sandbox/personas") as response:
        body = await response.json()

    assert [p["role"] for p in body["personas"]] == ["企业反映人", "监督员", "组长"]
    assert body["personas"][0]["start_payload"] == "c_sandboxDemoCard0001"
    assert body["bot"]["username"] == "ControlBot"


async def test_a_deep_link_text_and_contact_reach_the_bot_as_updates(http, bot):
    await call(http, "users", id=9001, first_name="赵经理", phone_number="+8613700000000")

    start = await call(http, "users/9001/start", payload="c_card0042")
    await call(http, "users/9001/text", text="/my")
    await call(http, "users/9001/contact")

    messages = [u.message for u in await bot.get_updates()]
    assert start["message"]["text"] == "/start c_card0042"
    assert messages[0].entities[0].type == "bot_command"
    assert messages[1].text == "/my"
    assert messages[2].contact.phone_number == "+8613700000000"
    assert messages[2].contact.user_id == 9001


async def test_photos_and_documents_upload_as_multipart_or_base64(http, bot, emulator):
    await call(http, "users", id=9002, first_name="钱女士")
    form = aiohttp.FormData()
    form.add_field(
        "file", b"\x89PNG\r\n\x1a\n" + bytes(16), filename="现场.png", content_type="image/png"
    )
    form.add_field("caption", "围挡倒塌")
    async with http.post("/_sandbox/users/9002/photo", data=form) as response:
        photo = (await response.json())["message"]["message"]["photo"][-1]
    document = await call(
        http,
        "users/9002/document",
        data_base64=base64.b64encode(b"%PDF-1.4 contract").decode(),
        filename="合同.pdf",
        mime_type="application/pdf",
    )

    updates = await bot.get_updates()
    assert updates[0].message.caption == "围挡倒塌"
    assert updates[1].message.document.file_name == "合同.pdf"
    assert updates[1].message.document.mime_type == "application/pdf"
    async with http.get(f"/_sandbox/files/{photo['file_id']}") as response:
        assert (await response.read()).startswith(b"\x89PNG")
    assert document["message"]["message"]["document"]["file_id"] in emulator.world.files


async def test_pressing_a_button_waits_for_the_bots_answer(http, bot):
    await call(http, "users", id=9003, first_name="孙先生")
    await call(http, "users/9003/start")
    sent = await bot.send_message(
        9003,
        "请评价",
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="满意", callback_data="sat:1")]]
        ),
    )

    async def answer() -> None:
        while True:
            for update in await bot.get_updates(timeout=5):
                if update.callback_query:
                    await bot.answer_callback_query(update.callback_query.id, text="感谢您的评价")
                    return

    answering = asyncio.create_task(answer())
    body = await call(http, "users/9003/click", text="满意", wait=10)
    await answering

    assert body["callback"]["data"] == "sat:1"
    assert body["callback"]["message_id"] == sent.message_id
    assert body["callback"]["answer"]["text"] == "感谢您的评价"


async def test_a_forged_callback_can_be_sent_on_purpose(http, bot):
    await call(http, "users", id=9004, first_name="李会计")
    await call(http, "users/9004/start")
    sent = await bot.send_message(9004, "案件详情")

    body = await call(http, "users/9004/press", data="ca1:acc:999", message_id=sent.message_id)

    queries = [u.callback_query for u in await bot.get_updates() if u.callback_query]
    assert queries[0].data == "ca1:acc:999"
    assert body["callback"]["answered"] is False


async def test_reply_keyboard_buttons_send_their_text_or_share_the_contact(http, bot, emulator):
    await call(http, "users", id=9005, first_name="周总", phone_number="+8613600000000")
    await call(http, "users/9005/start")
    await bot.send_message(
        9005,
        "请选择身份方式",
        reply_markup=ReplyKeyboardMarkup(
            keyboard=[
                [KeyboardButton(text="实名（分享手机号）", request_contact=True)],
                [KeyboardButton(text="匿名")],
            ],
            one_time_keyboard=True,
        ),
    )

    async with http.get("/_sandbox/users/9005/chat") as response:
        keyboard = (await response.json())["reply_keyboard"]
    await call(http, "users/9005/click", text="实名（分享手机号）")

    contact = (await bot.get_updates())[-1].message.contact
    assert keyboard["keyboard"][1][0]["text"] == "匿名"
    assert (contact.phone_number, contact.user_id) == ("+8613600000000", 9005)
    assert emulator.user(9005).chat.reply_keyboard is None


async def test_the_transcript_long_poll_returns_when_the_bot_writes(http, bot):
    await call(http, "users", id=9006, first_name="吴工")
    await call(http, "users/9006/start")
    async with http.get("/_sandbox/users/9006/chat") as response:
        version = (await response.json())["version"]

    async def later() -> None:
        await asyncio.sleep(0.05)
        await bot.send_message(9006, "<b>已受理</b>", parse_mode="HTML")

    writing = asyncio.create_task(later())
    async with http.get(f"/_sandbox/users/9006/chat?since={version}&wait=10") as response:
        chat = await response.json()
    await writing

    last = chat["messages"][-1]
    assert chat["version"] > version
    assert (last["from_bot"], last["text"]) == (True, "已受理")
    assert last["message"]["entities"] == [{"offset": 0, "length": 3, "type": "bold"}]


async def test_what_a_client_would_not_allow_is_refused(http):
    await call(http, "users", id=9007, first_name="郑女士")

    assert (await call(http, "users/9007/start", 400, payload="含有空格 的参数"))["ok"] is False
    assert "no button" in (await call(http, "users/9007/click", 400, text="不存在"))["error"]
    assert (await call(http, "users/9007/text", 400, text="   "))["ok"] is False
    assert (await call(http, "users/123456/text", 404, text="你好"))["error"] == "no user 123456"
    assert (await call(http, "users", 400, first_name="无编号"))["ok"] is False


async def test_a_user_who_blocks_the_bot_can_no_longer_be_written_to(http, bot):
    await call(http, "users", id=9008, first_name="冯先生")
    await call(http, "users/9008/start")

    await call(http, "users/9008/block", blocked=True)

    async with http.get("/_sandbox/users/9008/chat") as response:
        assert (await response.json())["blocked"] is True


def test_personas_parse_from_the_command_line():
    persona = parse_persona("7200001:刘女士:企业反映人:c_abcdefghijklmnop:+8613500000000")

    assert persona == Persona(
        key="u7200001",
        user_id=7200001,
        name="刘女士",
        role="企业反映人",
        start_payload="c_abcdefghijklmnop",
        phone_number="+8613500000000",
    )
    with pytest.raises(ValueError, match="ID:NAME"):
        parse_persona("刘女士")
    with pytest.raises(ValueError, match="start link"):
        parse_persona("7200001:刘女士:企业反映人:bad payload")


async def test_run_sandbox_serves_the_page_and_the_emulator_until_stopped():
    stop = asyncio.Event()
    seen: dict[str, Any] = {}

    async def on_ready(sandbox):
        async with aiohttp.ClientSession() as session:
            async with session.get(sandbox.page_url) as response:
                seen["page"] = await response.text()
            async with session.get(f"{sandbox.page_url}_sandbox/personas") as response:
                seen["personas"] = (await response.json())["personas"]
            async with session.get(f"{sandbox.api_base}/bot{sandbox.bot_token}/getMe") as response:
                seen["me"] = (await response.json())["result"]["username"]

        async def cleanup() -> None:
            seen["cleaned"] = True

        stop.set()
        return cleanup

    await run_sandbox(SandboxOptions(port=0, api_port=0), on_ready=on_ready, stop=stop)

    assert "廉卡沙盒" in seen["page"]
    assert len(seen["personas"]) == 3
    assert seen["me"] == "LiankaSandboxBot"
    assert seen["cleaned"] is True


def test_the_sandbox_command_explains_itself_and_rejects_a_bad_persona():
    runner = CliRunner()

    help_text = runner.invoke(main, ["sandbox", "--help"]).output
    bad = runner.invoke(main, ["sandbox", "--persona", "nobody"])

    assert "--api-port" in help_text and "8080" in help_text
    assert bad.exit_code == 2 and "ID:NAME" in bad.output
