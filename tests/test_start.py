"""Opening the bot: a card's link greets and counts the scan; bad cards get the hotlines; a plain
/start, /help, /cancel, 联系我们, flooding and the command menu."""

from __future__ import annotations

from datetime import timedelta

from aiogram import Dispatcher, Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import Message
from sqlmodel import col, select

from bot.app import publish_commands
from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.middlewares import FLOOD_REPLY, ThrottlingMiddleware
from handlers import start
from models.calendar import WorkCalendar
from models.card import Card, CardScan, CardStatus
from models.case import Case
from models.reporter import Reporter
from models.team import Team
from tests.harness import Telegram
from tests.intake_helpers import ENTERPRISE, TOKEN, assert_telegram_html, build, make_card, report

MENU = ["反映问题", "我的问题", "联系我们"]


async def test_scanning_a_card_greets_with_its_issuing_unit_and_counts_every_scan(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    async with sessions() as session:
        card = await make_card(session, clock.now(), zone_code="anju")
    telegram = build(sessions, catalog, calendar, clock)
    user = telegram.user()
    await user.start(TOKEN)
    assert "您好！这里是<b>安居镇纪委</b>，欢迎通过廉政监督联系卡" in user.last
    assert ENTERPRISE in user.last
    assert "依纪依法保护反映人信息" in user.last and "不会向被反映单位透露您的身份" in user.last
    assert user.messages[-1].button_texts == MENU
    clock.advance(timedelta(hours=1))
    await user.start(TOKEN)

    async with sessions() as session:
        stored = await session.get(Card, card.id)
        scans = (await session.exec(select(CardScan).order_by(col(CardScan.id)))).all()
        reporter = (await session.exec(select(Reporter))).one()
    assert stored is not None and stored.scan_count == 2 and stored.last_scan_at == clock.now()
    assert [s.scanned_at for s in scans] == [clock.now() - timedelta(hours=1), clock.now()]
    assert {s.reporter_id for s in scans} == {reporter.id}
    assert (reporter.card_id, reporter.enterprise_id, reporter.zone_id) == (
        card.id,
        card.enterprise_id,
        card.zone_id,
    )


async def test_a_revoked_card_is_refused_with_the_commissions_phone_and_12388(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    async with sessions() as session:
        card = await make_card(session, clock.now(), status=CardStatus.REVOKED)
    telegram = build(sessions, catalog, calendar, clock)
    user = telegram.user()
    await user.start(TOKEN)
    assert user.replies == [
        "此联系卡已停用，无法通过它反映问题。\n"
        "如需帮助，请拨打安居区纪委监委电话 0825-12388，或全国纪检监察举报电话 12388。"
    ]
    async with sessions() as session:
        stored = await session.get(Card, card.id)
        assert (await session.exec(select(Reporter))).all() == []
    assert stored is not None and stored.scan_count == 0


async def test_a_card_revoked_after_it_was_scanned_no_longer_lets_anyone_report(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    async with sessions() as session:
        card = await make_card(session, clock.now())
    telegram = build(sessions, catalog, calendar, clock)
    user = telegram.user()
    await user.start(TOKEN)  # the finder of a lost card scans it before it is revoked
    async with sessions() as session:
        stored = await session.get(Card, card.id)
        assert stored is not None
        stored.status = CardStatus.REVOKED
        await session.commit()
    await user.click("反映问题")
    assert user.alerts[-1] == (
        "此联系卡已停用，无法通过它反映问题。\n"
        "如需帮助，请拨打安居区纪委监委电话 0825-12388，或全国纪检监察举报电话 12388。"
    )
    assert user.replies == []  # no conversation was started


async def test_unknown_cards_are_refused_and_guessing_is_cut_off(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    async with sessions() as session:
        await make_card(session, clock.now())
    telegram = build(sessions, catalog, calendar, clock)
    user = telegram.user()
    for n in range(5):
        await user.start(f"c_{'x' * 15}{n:05d}")
        assert user.last.startswith("未能识别此联系卡，请核对二维码后重新扫描。")
        assert "0825-12388" in user.last and "12388" in user.last
    await user.start("c_guessguessguessguess")
    assert user.replies == ["尝试次数过多，请稍后再试。"]
    await user.start(TOKEN)  # even a real card gets no answer while cut off
    assert user.replies == []

    clock.advance(timedelta(minutes=10))
    await user.start(TOKEN)
    assert "安居经开区纪工委" in user.last
    other = telegram.user()
    await other.start("c_yyyyyyyyyyyyyyyyyyyy")
    assert other.last.startswith("未能识别此联系卡")
    assert_telegram_html(telegram)


async def test_a_start_parameter_that_is_no_card_is_refused_as_an_unknown_card(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    telegram = build(sessions, catalog, calendar, clock)
    user = telegram.user()
    await user.start("hello")
    assert user.last.startswith("未能识别此联系卡")


async def test_invite_links_are_left_to_the_registration_router() -> None:
    claimed: list[str | None] = []
    probe = Router(name="registration-probe")

    @probe.message(CommandStart(deep_link=True))
    async def on_invite(message: Message, command: CommandObject) -> None:
        claimed.append(command.args)

    dispatcher = Dispatcher()
    dispatcher.include_routers(start.setup(), probe)
    user = Telegram.create(dispatcher).user()
    await user.start("i_Xk3p9QzLm2")
    assert claimed == ["i_Xk3p9QzLm2"]


async def test_a_plain_start_asks_a_stranger_to_scan_and_greets_a_known_reporter(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    async with sessions() as session:
        await make_card(session, clock.now())
    telegram = build(sessions, catalog, calendar, clock)
    user = telegram.user()
    await user.start()
    assert "请用手机扫描贵企业廉政监督联系卡上的二维码" in user.last
    assert "/track" in user.last and "0825-12388" in user.last
    assert user.messages[-1].button_texts == ["我的问题", "联系我们"]

    await user.start(TOKEN)
    await user.start()
    assert "安居经开区纪工委" in user.last and user.messages[-1].button_texts == MENU
    async with sessions() as session:
        scans = (await session.exec(select(CardScan))).all()
    assert len(scans) == 1  # a plain /start is no scan


async def test_without_a_card_the_config_can_let_people_report_to_the_dispatcher_team(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    organisation = catalog.organisation.model_copy(update={"allow_start_without_card": True})
    config = catalog.model_copy(update={"organisation": organisation})
    telegram = build(sessions, config, calendar, clock)
    user = telegram.user()
    await user.start()
    assert "这里是<b>安居区纪委监委</b>" in user.last
    await user.click("反映问题")
    await user.click("营商环境")  # a category the rules would send to its own team
    await user.send("街道办事处要求企业赞助活动经费，不给就不办手续。")
    await user.click("完成")
    await user.click("跳过")
    await user.click("匿名")
    await user.click("确认提交")
    async with sessions() as session:
        case = (await session.exec(select(Case))).one()
        team = await session.get(Team, case.team_id)
    assert case.card_id is None and case.zone_id is None and case.routed_by is None
    assert team is not None and team.name == "信访室"


async def test_help_explains_and_contact_us_gives_the_phones(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    telegram = build(sessions, catalog, calendar, clock)
    user = telegram.user()
    await user.send("/help")
    assert "反映问题" in user.last and "/my" in user.last and "/track" in user.last
    assert "/cancel" in user.last and user.messages[-1].button_texts == MENU
    await user.click("联系我们")
    assert "<b>安居区纪委监委</b>" in user.last
    assert "联系电话：0825-12388" in user.last and "全国纪检监察举报电话：12388" in user.last
    assert "遂宁市安居区纪委监委信访室" in user.last
    assert_telegram_html(telegram)


async def test_cancel_with_nothing_in_progress_says_so(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    telegram = build(sessions, catalog, calendar, clock)
    user = telegram.user()
    await user.send("/cancel")
    assert user.last == "当前没有进行中的操作。"


async def test_text_outside_a_conversation_gets_a_hint_and_the_buttons(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    telegram = build(sessions, catalog, calendar, clock)
    user = telegram.user()
    await user.send("你好")
    assert user.last == "请点击下方按钮，或发送 /help 查看帮助。"
    assert user.messages[-1].button_texts == MENU


async def test_a_flood_gets_one_polite_reply_then_silence_for_a_while(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    telegram = build(sessions, catalog, calendar, clock, throttling=ThrottlingMiddleware())
    user = telegram.user()
    for _ in range(20):
        await user.send("/help")
    assert len(user.messages) == 20
    await user.send("/help")
    assert user.replies == [FLOOD_REPLY]
    await user.send("/help")
    await user.click("联系我们")
    assert user.replies == []
    assert FLOOD_REPLY not in user.alerts and len(user.messages) == 21
    other = telegram.user()
    await other.send("/help")
    assert "使用帮助" in other.last  # only the flooding account is held back

    clock.advance(timedelta(seconds=61))
    await user.send("/help")
    assert "使用帮助" in user.last


async def test_the_command_menu_is_chinese_for_private_chats(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    telegram = build(sessions, catalog, calendar, clock)
    await publish_commands(telegram.bot)
    (call,) = [c for c in telegram.session.calls if type(c).__name__ == "SetMyCommands"]
    values = call.model_dump()
    assert values["scope"]["type"] == "all_private_chats"
    assert [(c["command"], c["description"]) for c in values["commands"]] == [
        ("start", "首页"),
        ("report", "反映问题"),
        ("my", "我的问题"),
        ("track", "凭回执码查询进展"),
        ("help", "使用帮助"),
        ("cancel", "取消当前操作"),
    ]


async def test_a_report_after_the_greeting_keeps_the_card_on_the_case(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    async with sessions() as session:
        card = await make_card(session, clock.now(), zone_code="yufeng")
    telegram = build(sessions, catalog, calendar, clock)
    await report(telegram.user())
    async with sessions() as session:
        case = (await session.exec(select(Case))).one()
    assert (case.card_id, case.zone_id, case.enterprise_id) == (
        card.id,
        card.zone_id,
        card.enterprise_id,
    )
