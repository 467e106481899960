"""aiogram's own Bot and Dispatcher against the emulator over real HTTP: what a bot does with
Telegram works the same here, and what Telegram refuses is refused here."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramBadRequest, TelegramConflictError, TelegramForbiddenError
from aiogram.filters import CommandObject, CommandStart
from aiogram.methods import SendMessage
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    CallbackQuery,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
    Message,
    ReplyParameters,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from sandbox import BotSpec, Emulator

TOKEN = "4242:sandbox-test-token"
# A 2×1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAABCAIAAAB7QOjdAAAAEElEQVR4nGP4z8DAwMDAAAAfBAH/dwMGJAAAAABJRU5ErkJggg=="
)


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator(bots=[BotSpec(TOKEN, "LiankaTestBot", "廉卡")]) as running:
        yield running


@pytest.fixture
async def bot(emulator: Emulator) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url))
    bot = Bot(TOKEN, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    yield bot
    await bot.session.close()


def keyboard(*buttons: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=text, callback_data=data)] for text, data in buttons
        ]
    )


def started_user(emulator: Emulator, user_id: int = 501, name: str = "张经理"):
    user = emulator.add_user(user_id, name, phone_number="+8613900000000")
    user.start()
    return user


async def test_get_me_names_the_bot(bot):
    me = await bot.get_me()

    assert (me.id, me.username, me.first_name, me.is_bot) == (4242, "LiankaTestBot", "廉卡", True)


async def test_a_bot_message_with_buttons_appears_in_the_users_chat(emulator, bot):
    user = started_user(emulator)

    sent = await bot.send_message(
        user.id,
        "您好，<b>请选择</b>",
        reply_markup=keyboard(("反映问题", "rep"), ("我的问题", "my")),
    )

    assert sent.text == "您好，请选择"
    assert sent.entities[0].type == "bold"
    assert user.last.text == "您好，请选择"
    assert [b["text"] for b in user.last.inline_buttons()] == ["反映问题", "我的问题"]


async def test_a_bot_cannot_write_first_or_to_someone_who_blocked_it(emulator, bot):
    stranger = emulator.add_user(502, "未开始")
    with pytest.raises(TelegramForbiddenError, match="can't initiate conversation"):
        await bot.send_message(stranger.id, "您好")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(999999, "您好")

    user = started_user(emulator)
    user.block()
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(user.id, "您好")


async def test_editing_text_drops_the_keyboard_unless_it_is_sent_again(emulator, bot):
    user = started_user(emulator)
    sent = await bot.send_message(user.id, "待签收", reply_markup=keyboard(("签收", "acc")))

    await bot.edit_message_text(
        "已签收",
        chat_id=user.id,
        message_id=sent.message_id,
        reply_markup=keyboard(("办结", "res")),
    )
    assert [b["text"] for b in user.last.inline_buttons()] == ["办结"]

    edited = await bot.edit_message_text("已办结", chat_id=user.id, message_id=sent.message_id)
    assert edited.reply_markup is None
    assert user.last.text == "已办结" and user.last.inline_buttons() == []
    assert user.last.as_json()["edited"] is True


async def test_an_edit_that_changes_nothing_is_refused(emulator, bot):
    user = started_user(emulator)
    sent = await bot.send_message(user.id, "待签收", reply_markup=keyboard(("签收", "acc")))

    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            "待签收",
            chat_id=user.id,
            message_id=sent.message_id,
            reply_markup=keyboard(("签收", "acc")),
        )
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=user.id, message_id=999)
    await bot.edit_message_reply_markup(chat_id=user.id, message_id=sent.message_id)
    assert user.last.inline_buttons() == []


async def test_a_deleted_message_leaves_the_chat(emulator, bot):
    user = started_user(emulator)
    sent = await bot.send_message(user.id, "临时提示")

    assert await bot.delete_message(user.id, sent.message_id) is True

    assert all(m.text != "临时提示" for m in user.messages)
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(user.id, sent.message_id)


async def test_an_uploaded_document_can_be_fetched_back(emulator, bot):
    user = started_user(emulator)

    sent = await bot.send_document(
        user.id, BufferedInputFile("分析研判报告".encode(), "report.txt"), caption="<b>周报</b>"
    )
    file = await bot.get_file(sent.document.file_id)
    downloaded = await bot.download_file(file.file_path)

    assert downloaded.read() == "分析研判报告".encode()
    assert sent.document.file_name == "report.txt"
    assert sent.caption == "周报" and sent.caption_entities[0].type == "bold"
    again = await bot.send_document(user.id, sent.document.file_id)
    assert again.document.file_id == sent.document.file_id


async def test_a_photo_a_user_sends_can_be_downloaded_by_the_bot(emulator, bot):
    user = started_user(emulator)
    user.send_photo(PNG, caption="现场照片")

    updates = await bot.get_updates()
    photo = updates[-1].message.photo[-1]
    downloaded = await bot.download(photo.file_id)

    assert downloaded.read() == PNG
    assert (photo.width, photo.height) == (2, 1)
    assert updates[-1].message.caption == "现场照片"


async def test_a_photo_the_bot_uploads_is_shown_in_the_chat(emulator, bot):
    user = started_user(emulator)

    sent = await bot.send_photo(user.id, BufferedInputFile(PNG, "chart.png"))

    assert user.last.message_id == sent.message_id
    assert emulator.world.files[sent.photo[-1].file_id].data == PNG


@pytest.mark.parametrize(
    ("text", "markup", "error"),
    [
        ("字" * 4097, None, "message is too long"),
        ("   ", None, "message text is empty"),
        ("请选择", keyboard(("太长", "x" * 65)), "BUTTON_DATA_INVALID"),
        (
            "您反映的：<script>alert(1)</script>",
            None,
            'can\'t parse entities: Unsupported start tag "script"',
        ),
        ("金额 <b>大于 100", None, "can't parse entities: Can't find end tag"),
        ("描述：a < b", None, "can't parse entities: Unsupported start tag"),
    ],
)
async def test_what_telegram_refuses_to_send_is_refused(emulator, bot, text, markup, error):
    user = started_user(emulator)

    with pytest.raises(TelegramBadRequest, match=error):
        await bot.send_message(user.id, text, reply_markup=markup)

    assert user.replies == []


async def test_a_64_byte_callback_is_accepted(emulator, bot):
    user = started_user(emulator)

    await bot.send_message(user.id, "请选择", reply_markup=keyboard(("按钮", "é" * 32)))

    assert user.last.inline_buttons()[0]["callback_data"] == "é" * 32


async def test_an_answer_to_a_force_reply_question_quotes_the_question(emulator, bot):
    user = started_user(emulator)
    question = await bot.send_message(user.id, "请补充合同编号", reply_markup=ForceReply())

    user.send("HT-2026-001")
    answer = (await bot.get_updates())[-1].message
    receipt = await bot.send_message(
        user.id, "已收到", reply_parameters=ReplyParameters(message_id=answer.message_id)
    )

    assert answer.reply_to_message.message_id == question.message_id
    assert receipt.reply_to_message.text == "HT-2026-001"
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(user.id, "x", reply_parameters=ReplyParameters(message_id=999))


async def test_updates_of_kinds_the_bot_does_not_want_are_dropped(emulator, bot):
    user = started_user(emulator)
    user.block()

    updates = await bot.get_updates(allowed_updates=["message"])

    assert [u.message.text for u in updates] == ["/start"]
    assert all("my_chat_member" not in u for u in emulator.bot().updates)


async def test_updates_stay_until_an_offset_confirms_them(emulator, bot):
    user = started_user(emulator)
    user.send("第一条")

    first = await bot.get_updates()
    again = await bot.get_updates()
    assert [u.update_id for u in first] == [u.update_id for u in again]
    assert [u.message.text for u in first] == ["/start", "第一条"]

    assert await bot.get_updates(offset=first[-1].update_id + 1) == []


async def test_a_long_poll_returns_as_soon_as_the_user_writes(emulator, bot):
    user = started_user(emulator)
    await bot.get_updates(offset=-1)
    confirmed = emulator.bot().updates[-1]["update_id"] + 1
    await bot.get_updates(offset=confirmed)

    waiting = asyncio.create_task(bot.get_updates(offset=confirmed, timeout=20))
    await emulator.world.wait(
        lambda: emulator.bot().poller is not None and not emulator.bot().poller.done(), 5
    )
    user.send("在吗")

    updates = await asyncio.wait_for(waiting, 10)
    assert [u.message.text for u in updates] == ["在吗"]


async def test_a_second_poller_ends_the_first_with_a_conflict(emulator, bot):
    waiting = asyncio.create_task(bot.get_updates(timeout=20))
    await emulator.world.wait(lambda: emulator.bot().poller is not None, 5)

    await bot.get_updates()

    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates"):
        await asyncio.wait_for(waiting, 10)


def greeter() -> Router:
    """A stand-in journey: /start greets with a button; the press edits the greeting."""
    router = Router(name="greeter")

    @router.message(CommandStart())
    async def cmd_start(message: Message, command: CommandObject) -> None:
        await message.answer(
            f"欢迎，卡片 <code>{command.args or '无'}</code>",
            reply_markup=keyboard(("反映问题", "report")),
        )

    @router.callback_query(F.data == "report")
    async def on_report(query: CallbackQuery) -> None:
        assert isinstance(query.message, Message)
        await query.message.edit_text("请描述您要反映的问题")
        await query.answer("已开始", show_alert=True)

    return router


async def test_a_polling_dispatcher_answers_a_deep_link_and_a_button_press(emulator, bot):
    dispatcher = Dispatcher()
    dispatcher.include_router(greeter())
    polling = asyncio.create_task(
        dispatcher.start_polling(
            bot, polling_timeout=1, handle_signals=False, close_bot_session=False
        )
    )
    try:
        user = emulator.add_user(503, "李女士")
        user.start("c_card0001")
        greeting = await user.wait_reply("欢迎")
        assert greeting.text == "欢迎，卡片 c_card0001"

        press = user.click("反映问题")
        await asyncio.wait_for(press.done.wait(), 10)
        await user.wait_for(
            lambda chat: chat.message(greeting.message_id).text == "请描述您要反映的问题"
        )
    finally:
        await dispatcher.stop_polling()
        await polling

    assert press.answer == {"text": "已开始", "show_alert": True, "url": None}
    assert user.transcript()["alerts"][-1]["text"] == "已开始"
    assert emulator.bot().allowed_updates == {"message", "callback_query"}


@pytest.fixture
async def webhook_server() -> AsyncIterator[tuple[str, list[dict[str, Any]], list[int]]]:
    """A webhook that records each delivery and answers with the next status in ``statuses``."""
    deliveries: list[dict[str, Any]] = []
    statuses: list[int] = []

    async def receive(request: web.Request) -> web.Response:
        deliveries.append(
            {
                "secret": request.headers.get("X-Telegram-Bot-Api-Secret-Token"),
                "update": await request.json(),
            }
        )
        return web.json_response({}, status=statuses.pop(0) if statuses else 200)

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/hook", deliveries, statuses
    await runner.cleanup()


async def test_a_webhook_gets_updates_with_the_secret_and_again_until_it_answers_200(
    emulator, bot, webhook_server
):
    url, deliveries, statuses = webhook_server
    emulator.webhook_backoff = 0.01
    statuses.extend([500, 502])
    user = emulator.add_user(504, "周先生")

    assert await bot.set_webhook(url, secret_token="s3cret-Token_1", allowed_updates=["message"])
    user.send("你好")
    await emulator.world.wait(lambda: emulator.stats.webhook_deliveries == 1, 10)

    assert [d["secret"] for d in deliveries] == ["s3cret-Token_1"] * 3
    assert {d["update"]["update_id"] for d in deliveries} == {deliveries[0]["update"]["update_id"]}
    assert deliveries[0]["update"]["message"]["text"] == "你好"
    info = await bot.get_webhook_info()
    assert info.url == url and info.pending_update_count == 0
    assert "502" in info.last_error_message
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await bot.get_updates()

    await bot.delete_webhook()
    user.send("再见")
    assert [u.message.text for u in await bot.get_updates()] == ["再见"]


async def test_a_webhook_reply_carrying_a_method_is_carried_out(emulator, bot):
    router = Router()

    @router.message(F.text == "几点办结")
    async def on_question(message: Message) -> SendMessage:
        return message.answer("15 个工作日内办结")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    app = web.Application()
    SimpleRequestHandler(dispatcher, bot, handle_in_background=False, secret_token="abc").register(
        app, "/hook"
    )
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        user = emulator.add_user(505, "吴会计")
        user.start()
        await bot.set_webhook(f"http://127.0.0.1:{runner.addresses[0][1]}/hook", secret_token="abc")
        user.send("几点办结")
        reply = await user.wait_reply("办结")
    finally:
        await bot.delete_webhook()
        await runner.cleanup()

    assert reply.text == "15 个工作日内办结"


async def test_plain_http_queries_json_bodies_and_errors_use_the_bot_api_envelope(emulator):
    user = started_user(emulator)
    base = f"{emulator.base_url}/bot{TOKEN}"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/getme") as response:
            assert (await response.json())["result"]["username"] == "LiankaTestBot"
        body = {
            "chat_id": user.id,
            "text": "JSON 请求",
            "reply_markup": {"inline_keyboard": [[{"text": "好", "callback_data": "ok"}]]},
        }
        async with http.post(f"{base}/sendMessage", json=body) as response:
            assert (await response.json())["result"]["reply_markup"] == body["reply_markup"]
        form = {
            "chat_id": str(user.id),
            "text": "表单",
            "reply_markup": json.dumps(body["reply_markup"]),
        }
        async with http.post(f"{base}/sendMessage", data=form) as response:
            assert (await response.json())["ok"] is True
        async with http.get(f"{emulator.base_url}/bot1:wrong/getMe") as response:
            assert response.status == 401
            assert await response.json() == {
                "ok": False,
                "error_code": 401,
                "description": "Unauthorized",
            }
        async with http.get(f"{base}/sendPigeon") as response:
            assert response.status == 404 and (await response.json())["ok"] is False

    assert [m.text for m in user.replies] == ["JSON 请求", "表单"]


async def test_copies_forwards_albums_actions_and_commands_work_as_on_telegram(emulator, bot):
    reporter = started_user(emulator, 601, "反映人")
    inspector = started_user(emulator, 602, "监督员")
    evidence = reporter.send_photo(PNG, caption="现场")

    copied = await bot.copy_message(inspector.id, reporter.id, evidence.message_id)
    forwarded = await bot.forward_message(inspector.id, reporter.id, evidence.message_id)
    album = await bot.send_media_group(
        inspector.id,
        [
            InputMediaPhoto(media=evidence.content["photo"][-1]["file_id"], caption="图一"),
            InputMediaDocument(media=BufferedInputFile(b"%PDF", "合同.pdf")),
        ],
    )
    await bot.send_chat_action(inspector.id, "typing")
    await bot.set_my_commands([BotCommand(command="my", description="我的问题")])
    chat = await bot.get_chat(inspector.id)

    assert inspector.chat.message(copied.message_id).text == "现场"
    assert "forward_origin" not in inspector.chat.message(copied.message_id).content
    assert forwarded.forward_origin.sender_user.id == reporter.id
    assert album[0].media_group_id == album[1].media_group_id
    assert album[1].document.file_name == "合同.pdf"
    assert inspector.transcript()["chat_action"] == "typing"
    await bot.send_message(inspector.id, "请查看材料")
    assert inspector.transcript()["chat_action"] is None
    assert [c.command for c in await bot.get_my_commands()] == ["my"]
    assert chat.first_name == "监督员"
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="我的", description="x")])
