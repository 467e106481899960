"""What admins do often, in Telegram: re-route a case (/reroute) and deactivate a person
(/inspectors). Invitations stay on the command line (``lianka inspectors invite``). The acting
person comes from ``handlers.actor``; each handler checks that it is an admin."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.services.assignment import check_route
from bot.services.case_lists import get_case_by_number
from bot.services.inspectors import (
    deactivate_inspector,
    get_inspector,
    list_inspectors,
    require_admin,
)
from bot.services.routing import list_route_targets
from handlers.actor import with_actor
from handlers.leader import edit_or_send
from models.errors import InvalidInput
from models.team import Inspector
from notifications.render import render
from notifications.telegram import (
    AdminAct,
    AdminAction,
    confirm_deactivate_keyboard,
    deactivate_keyboard,
    teams_keyboard,
)


async def cmd_reroute_without_number(message: Message) -> None:
    raise InvalidInput("请在命令后写上问题编号，例如 /reroute AJ-2026-00042。")


async def cmd_reroute(
    message: Message, command: CommandObject, session: AsyncSession, actor: Inspector
) -> None:
    assert command.args is not None
    require_admin(actor)
    found = await get_case_by_number(session, command.args)
    assert found.id is not None
    case = await check_route(session, actor, found.id)
    teams = await list_route_targets(session, case)
    await message.answer(
        render("staff_choose_team", number=case.number),
        reply_markup=teams_keyboard(found.id, teams),
    )


async def cmd_inspectors(message: Message, session: AsyncSession, actor: Inspector) -> None:
    require_admin(actor)
    rows = await list_inspectors(session, include_inactive=False)
    await message.answer(
        render("inspector_list", rows=rows),
        reply_markup=deactivate_keyboard(rows, actor_id=actor.id),
    )


async def on_deactivate(
    query: CallbackQuery,
    callback_data: AdminAction,
    session: AsyncSession,
    actor: Inspector,
    bot: Bot,
) -> None:
    """停用: ask to confirm."""
    require_admin(actor)
    person = await get_inspector(session, callback_data.inspector_id)
    await query.answer()
    await bot.send_message(
        query.from_user.id,
        render("staff_confirm_deactivate", name=person.name),
        reply_markup=confirm_deactivate_keyboard(callback_data.inspector_id),
    )


async def on_deactivate_confirmed(
    query: CallbackQuery,
    *,
    callback_data: AdminAction,
    session: AsyncSession,
    actor: Inspector,
    bot: Bot,
    clock: Clock,
) -> None:
    require_admin(actor)
    result = await deactivate_inspector(session, callback_data.inspector_id, clock.now(), by=actor)
    await query.answer("已停用")
    text = render("staff_deactivated", name=result.inspector.name, numbers=result.cases)
    await edit_or_send(query, bot, text)


def setup() -> Router:
    router = with_actor(Router(name=__name__))
    router.message.register(cmd_reroute_without_number, Command("reroute", magic=~F.args))
    router.message.register(cmd_reroute, Command("reroute"))
    router.message.register(cmd_inspectors, Command("inspectors"))
    deactivate = AdminAction.filter(F.act == AdminAct.DEACTIVATE)
    router.callback_query.register(on_deactivate, deactivate)
    confirmed = AdminAction.filter(F.act == AdminAct.DEACTIVATE_CONFIRMED)
    router.callback_query.register(on_deactivate_confirmed, confirmed)
    return router
