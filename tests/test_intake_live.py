"""The real path: ``lianka run``'s bot and dispatcher polling the sandbox Bot API emulator over
HTTP, a reporter going from the card to a named report with evidence. Every message must pass the
emulator's Telegram-HTML parser, as it must pass Telegram's."""

from __future__ import annotations

import asyncio

from aiogram.fsm.storage.memory import SimpleEventIsolation
from sqlmodel import select

from bot.app import create_bot, publish_commands
from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.dispatcher import create_dispatcher
from bot.middlewares import ThrottlingMiddleware
from bot.settings import Settings
from bot.storage import SqlStorage
from models.attachment import Attachment
from models.calendar import WorkCalendar
from models.case import Case
from models.reporter import ReporterContact
from sandbox import BotSpec, Emulator
from sandbox.world import commands_key
from tests.intake_helpers import REFUND, TOKEN, make_card

BOT_TOKEN = "4343:intake-live-test-token"


async def test_a_named_report_over_http_through_the_bot_api_emulator(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    async with sessions() as session:
        await make_card(session, clock.now())
    async with Emulator(bots=[BotSpec(BOT_TOKEN, "LiankaTestBot", "廉卡")]) as emulator:
        settings = Settings(bot_token=BOT_TOKEN, telegram_api_base=emulator.base_url)
        bot = create_bot(settings)
        dispatcher = create_dispatcher(
            settings=settings,
            config=catalog,
            sessions=sessions,
            calendar=calendar,
            storage=SqlStorage(sessions),
            events_isolation=SimpleEventIsolation(),
            clock=clock,
            throttling=ThrottlingMiddleware(),
        )
        await publish_commands(bot)
        polling = asyncio.create_task(
            dispatcher.start_polling(
                bot,
                polling_timeout=1,
                handle_signals=False,
                allowed_updates=dispatcher.resolve_used_update_types(),
            )
        )
        try:
            user = emulator.add_user(7300001, "宋利剑", phone_number="+86 138 1234 5678")
            user.start(TOKEN)
            greeting = await user.wait_reply("廉政监督联系卡")
            assert "这里是安居经开区纪工委，欢迎通过廉政监督联系卡" in greeting.text

            user.click("反映问题")
            await user.wait_reply("请选择您要反映的问题类别")
            user.click("营商环境")
            await user.wait_reply("请用文字描述")
            user.send(REFUND)
            await user.wait_reply("请上传相关材料")
            user.send_photo(b"\xff\xd8\xff\xe0 fake jpeg")
            await user.wait_reply("已收到1个附件")
            user.send_document(b"%PDF-1.4 agreement", "协议书.pdf", "application/pdf")
            await user.wait_reply("已收到2个附件")
            user.click("完成")
            await user.wait_reply("问题涉及的金额是多少")
            user.send("125000元")
            await user.wait_reply("请选择反映方式")
            user.click("实名")
            await user.wait_reply("发送手机号")
            user.click("发送手机号")  # Telegram's contact button: the account's own number
            summary = await user.wait_reply("请核对您反映的问题")
            assert "实名（宋利剑，13812345678）" in summary.text
            assert "涉及金额：12.5万元" in summary.text
            user.click("确认提交")
            done = await user.wait_reply("提交成功")
            assert "AJ-2026-00001" in done.text and "回执码" not in done.text

            user.send("/my")
            listing = await user.wait_reply("我的问题")
            assert "状态：已提交，待受理" in listing.text
        finally:
            await dispatcher.stop_polling()
            await polling
            await bot.session.close()

        menu = emulator.bot().commands[commands_key({"type": "all_private_chats"}, "")]
        assert [(c["command"], c["description"]) for c in menu][:3] == [
            ("start", "首页"),
            ("report", "反映问题"),
            ("my", "我的问题"),
        ]

    async with sessions() as session:
        case = (await session.exec(select(Case))).one()
        contact = (await session.exec(select(ReporterContact))).one()
        files = (await session.exec(select(Attachment))).all()
    assert case.amount_involved_yuan == 125_000 and case.anonymous is False
    assert (contact.name_plain(), contact.phone_plain()) == ("宋利剑", "13812345678")
    assert sorted(f.kind.value for f in files) == ["document", "photo"]
