"""Registration by invite link: ``/start i_<code>`` binds the account that opens it, once; a used,
expired or unknown code is refused; a deactivated person invited again comes back."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.middlewares.base import NextRequestMiddlewareType
from aiogram.methods import SetMyCommands, TelegramMethod
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.inspectors import create_invite, deactivate_inspector
from handlers.errors import UNEXPECTED
from models.calendar import WorkCalendar
from models.team import Inspector, InviteCode, Role
from sandbox.emulator import BAD_GATEWAY_PAGE
from tests.inspector_support import build


async def invite(
    sessions: SessionFactory, clock: FrozenClock, role: Role = Role.INSPECTOR, **kwargs: object
) -> str:
    async with sessions() as session:
        created = await create_invite(
            session,
            role=role,
            team_code=kwargs.get("team_code", "business_env"),  # type: ignore[arg-type]
            name=kwargs.get("name"),  # type: ignore[arg-type]
            bot_username="LiankaTestBot",
            now=clock.now(),
        )
    return "i_" + created.code


async def test_opening_the_link_registers_the_person_with_their_telegram_name(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    payload = await invite(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    person = tg.user(first_name="李明", user_id=5001)
    await person.start(payload)
    assert person.last.startswith("李明，您好！您的账号已登记为监督员（“营商环境”立项监督组）")
    assert "/queue 我承办的问题" in person.last
    async with sessions() as session:
        bound = (await session.exec(select(Inspector))).one()
        code = (await session.exec(select(InviteCode))).one()
    assert (bound.telegram_user_id, bound.chat_id, bound.role) == (5001, 5001, Role.INSPECTOR)
    assert code.used_at == clock.now() and code.inspector_id == bound.id
    assert payload.removeprefix("i_") not in code.code_hash


async def test_a_used_an_expired_and_an_unknown_link_are_refused(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    used = await invite(sessions, clock)
    expiring = await invite(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    await tg.user(user_id=5001).start(used)
    second = tg.user(user_id=5002)
    await second.start(used)
    assert second.last == "该邀请链接已被使用，请联系管理员重新生成。"
    clock.advance(timedelta(days=7))
    await second.start(expiring)
    assert second.last == "该邀请链接已过期，请联系管理员重新生成。"
    await second.start("i_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    assert second.last == "该邀请链接无效，请联系管理员重新生成。"
    async with sessions() as session:
        people = (await session.exec(select(Inspector))).all()
    assert [p.telegram_user_id for p in people] == [5001]


async def test_a_registered_account_cannot_take_a_second_invite(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    first, second = await invite(sessions, clock), await invite(sessions, clock, Role.ADMIN)
    tg = build(sessions, catalog, calendar, clock)
    person = tg.user(user_id=5001)
    await person.start(first)
    await person.start(second)
    assert person.last == "您的账号已登记，无需重复登记。如需变更角色，请联系管理员。"
    async with sessions() as session:
        assert (await session.exec(select(Inspector))).one().role is Role.INSPECTOR


async def test_a_deactivated_person_invited_again_is_reactivated_with_the_new_role(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    tg = build(sessions, catalog, calendar, clock)
    person = tg.user(first_name="李明", user_id=5001)
    await person.start(await invite(sessions, clock))
    async with sessions() as session:
        bound = (await session.exec(select(Inspector))).one()
        assert bound.id is not None
        await deactivate_inspector(session, bound.id, clock.now())
    await person.send("/queue")
    assert person.last == "您不是登记的监督人员，无权进行此操作。"
    again = await invite(sessions, clock, Role.TEAM_LEADER, team_code="safety", name="李明")
    await person.start(again)
    assert "已登记为组长（“安全生产”立项监督组）" in person.last
    async with sessions() as session:
        back = (await session.exec(select(Inspector))).one()
    assert (back.id, back.active, back.role) == (bound.id, True, Role.TEAM_LEADER)
    await person.send("/queue")
    assert "“安全生产”立项监督组 待办问题" in person.last


async def test_a_leader_needs_no_team_and_gets_the_leaders_commands(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    payload = await invite(sessions, clock, Role.LEADER, team_code=None, name="郑书记")
    tg = build(sessions, catalog, calendar, clock)
    person = tg.user(user_id=5009)
    await person.start(payload)
    assert person.last.startswith("郑书记，您好！您的账号已登记为委领导。")
    assert "/stats 统计" in person.last
    assert "/supervise 编号 工作日数 督办问题" in person.last and "/report" in person.last
    (commands,) = [c for c in tg.session.calls if isinstance(c, SetMyCommands)]
    assert [c.command for c in commands.commands] == [
        "queue", "stats", "case", "supervise", "report", "cancel",
    ]  # fmt: skip


async def test_an_account_opening_link_after_link_is_stopped_after_five(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    tg = build(sessions, catalog, calendar, clock)
    prober = tg.user(user_id=5003)
    for n in range(5):
        await prober.start(f"i_guess{n:027d}")
        assert prober.last == "该邀请链接无效，请联系管理员重新生成。"
    genuine = await invite(sessions, clock)
    await prober.start(genuine)
    assert prober.last == "尝试次数过多，请一小时后再试，或联系管理员。"
    clock.advance(timedelta(hours=1))
    await prober.start(genuine)
    assert "您的账号已登记为监督员" in prober.last


async def proxy_page_for_menus(
    make_request: NextRequestMiddlewareType[Any], bot: Bot, method: TelegramMethod[Any]
) -> Any:
    """A proxy in front of the Bot API answering setMyCommands with its 502 page: aiogram reads
    it as it would off the wire (``ClientDecodeError``)."""
    if isinstance(method, SetMyCommands):
        bot.session.check_response(bot, method, 502, BAD_GATEWAY_PAGE)
    return await make_request(bot, method)


async def test_registration_is_saved_and_welcomed_when_the_command_menu_cannot_be_set(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    inspector_link = await invite(sessions, clock, name="李明")
    leader_link = await invite(sessions, clock, Role.LEADER, team_code=None, name="郑书记")
    tg = build(sessions, catalog, calendar, clock)
    tg.bot.session.middleware(proxy_page_for_menus)
    inspector, leader = tg.user(user_id=5011), tg.user(user_id=5012)
    with caplog.at_level(logging.WARNING):
        await inspector.start(inspector_link)
        await leader.start(leader_link)
    assert inspector.replies == [inspector.last] and inspector.last.startswith("李明，您好！")
    assert leader.replies == [leader.last] and leader.last.startswith("郑书记，您好！")
    assert UNEXPECTED not in inspector.replies + leader.replies
    async with sessions() as session:
        people = (
            await session.exec(select(Inspector).order_by(col(Inspector.telegram_user_id)))
        ).all()
    assert [(p.telegram_user_id, p.role) for p in people] == [
        (5011, Role.INSPECTOR),
        (5012, Role.LEADER),
    ]
    warnings = [r.getMessage() for r in caplog.records if r.name == "handlers.registration"]
    assert warnings == [
        "could not set the inspector command menu: ClientDecodeError",
        "could not set the leader command menu: ClientDecodeError",
    ]
    await leader.send("/queue")
    assert "待办问题" in leader.last
