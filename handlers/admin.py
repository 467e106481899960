"""What admins do often, in Telegram: re-route a case (/reroute) and deactivate a person
(/inspectors). Invitations stay on the command line (``lianka inspectors invite``)."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, User
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.services.assignment import check_route
from bot.services.case_lists import get_case_by_number
from bot.services.inspectors import (
    deactivate_inspector,
    get_actor,
    get_inspector,
    list_inspectors,
    require_admin,
)
from bot.services.routing import list_route_targets
from handlers.leader import edit_or_send
from models.errors import InvalidInput
from notifications.render import render
from notifications.telegram import AdminAct, AdminAction, TeamAct, TeamAction


async def cmd_reroute(
    message: Message, event_from_user: User, command: CommandObject, session: AsyncSession
) -> None:
    if not command.args:
        raise InvalidInput("请在命令后写上问题编号，例如 /reroute AJ-2026-00042。")
    actor = await get_actor(session, event_from_user.id)
    require_admin(actor)
    found = await get_case_by_number(session, command.args)
    assert found.id is not None
    case = await check_route(session, actor, found.id)
    teams = await list_route_targets(session, case)
    await message.answer(
        render("leader_replies", what="choose_team", number=case.number),
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(
                        text=f"分办：{team.name}",
                        callback_data=TeamAction(
                            act=TeamAct.ROUTE_TO, case_id=found.id, team_id=team.id
                        ).pack(),
                    )
                ]
                for team in teams
            ]
        ),
    )


async def cmd_inspectors(message: Message, event_from_user: User, session: AsyncSession) -> None:
    actor = await get_actor(session, event_from_user.id)
    require_admin(actor)
    rows = await list_inspectors(session, include_inactive=False)
    await message.answer(
        render("inspector_list", rows=rows),
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(
                        text=f"停用 {row.id}. {row.name}",
                        callback_data=AdminAction(
                            act=AdminAct.DEACTIVATE, inspector_id=row.id
                        ).pack(),
                    )
                ]
                for row in rows
                if row.id != actor.id
            ]
        ),
    )


async def on_admin_action(
    query: CallbackQuery,
    callback_data: AdminAction,
    session: AsyncSession,
    bot: Bot,
    clock: Clock,
) -> None:
    actor = await get_actor(session, query.from_user.id)
    require_admin(actor)
    match callback_data.act:
        case AdminAct.DEACTIVATE:
            person = await get_inspector(session, callback_data.inspector_id)
            await query.answer()
            await bot.send_message(
                query.from_user.id,
                render("leader_replies", what="confirm_deactivate", name=person.name),
                reply_markup=InlineKeyboardMarkup(
                    inline_keyboard=[
                        [
                            InlineKeyboardButton(
                                text="确认停用",
                                callback_data=AdminAction(
                                    act=AdminAct.DEACTIVATE_CONFIRMED,
                                    inspector_id=callback_data.inspector_id,
                                ).pack(),
                            )
                        ]
                    ]
                ),
            )
        case AdminAct.DEACTIVATE_CONFIRMED:
            result = await deactivate_inspector(
                session, callback_data.inspector_id, clock.now(), by=actor
            )
            await query.answer("已停用")
            await edit_or_send(
                query,
                bot,
                render(
                    "leader_replies",
                    what="deactivated",
                    name=result.inspector.name,
                    numbers=result.cases,
                ),
            )


def setup() -> Router:
    router = Router(name=__name__)
    router.message.register(cmd_reroute, Command("reroute"))
    router.message.register(cmd_inspectors, Command("inspectors"))
    router.callback_query.register(on_admin_action, AdminAction.filter())
    return router
