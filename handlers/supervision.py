"""督办回复 and 合并办理 in the chat: the buttons under a 督办 notice and a 疑似重复件 notice.

督办回复 asks for the reply as text and ends with ``supervision.reply_supervision``, which checks
everything again; 合并办理 is one press (``repeats.merge_repeat``). One handler per button or
step; the acting person comes from ``handlers.actor``.
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.services.case_lists import show_case
from bot.services.policy import Policy
from bot.services.repeats import merge_repeat
from bot.services.supervision import (
    check_supervision_reply,
    reply_supervision,
    supervise_case,
)
from handlers.actor import with_actor
from handlers.staff_steps import cmd_cancel, on_not_text, open_step, step_case_id, step_ends
from models.errors import InvalidInput
from models.team import Inspector
from notifications.render import render
from notifications.telegram import SupervisionAct, SupervisionAction


class SupervisionFlow(StatesGroup):
    reply = State()  # 督办回复: waiting for the text


async def on_reply_start(
    query: CallbackQuery,
    *,
    callback_data: SupervisionAction,
    session: AsyncSession,
    actor: Inspector,
    state: FSMContext,
    bot: Bot,
) -> None:
    case = await check_supervision_reply(session, actor, callback_data.case_id)
    ask = render("staff_supervision_reply_ask", number=case.number)
    await open_step(
        query, state, bot, case_id=callback_data.case_id, step=SupervisionFlow.reply, ask=ask
    )


async def on_reply(
    message: Message,
    *,
    session: AsyncSession,
    actor: Inspector,
    state: FSMContext,
    clock: Clock,
) -> None:
    data = await state.get_data()
    case_id = step_case_id(data)
    async with step_ends(state):
        reply = await reply_supervision(
            session, actor, case_id, message.text or "", now=clock.now()
        )
    text = render("staff_supervision_replied", number=reply.case.number, late=reply.late)
    await message.answer(text)


async def on_merge(
    query: CallbackQuery,
    *,
    callback_data: SupervisionAction,
    session: AsyncSession,
    actor: Inspector,
    bot: Bot,
    clock: Clock,
) -> None:
    merged = await merge_repeat(session, actor, callback_data.case_id, now=clock.now())
    await query.answer("已合并办理")
    text = render("staff_merged", number=merged.case.number, into=merged.into.number)
    await bot.send_message(query.from_user.id, text)


async def cmd_supervise(
    message: Message,
    command: CommandObject,
    *,
    session: AsyncSession,
    actor: Inspector,
    policy: Policy,
    clock: Clock,
) -> None:
    """/supervise <编号> [工作日]: 督办 with a 督办期限 the leader chooses (the button on /case
    gives the configured default)."""
    parts = (command.args or "").split()
    if not parts or len(parts) > 2 or (len(parts) == 2 and not parts[1].isdecimal()):
        raise InvalidInput(
            "请写为 /supervise 问题编号 工作日数，例如 /supervise AJ-2026-00042 10。"
        )
    days = int(parts[1]) if len(parts) == 2 and len(parts[1]) <= 3 else None
    if len(parts) == 2 and days is None:
        raise InvalidInput("督办期限应为1至60个工作日。")
    detail = await show_case(session, actor, parts[0], clock.now())
    assert detail.case.id is not None
    case = await supervise_case(
        session, actor, detail.case.id, policy=policy, now=clock.now(), days=days
    )
    text = render("staff_supervised", number=case.number, due=case.supervision_due_at)
    await message.answer(text)


def setup() -> Router:
    router = with_actor(Router(name=__name__))
    action = SupervisionAction.filter
    router.callback_query.register(on_reply_start, action(F.act == SupervisionAct.REPLY))
    router.callback_query.register(on_merge, action(F.act == SupervisionAct.MERGE))
    router.message.register(cmd_supervise, Command("supervise"))
    router.message.register(cmd_cancel, StateFilter(SupervisionFlow), Command("cancel"))
    typed = F.text & ~F.text.startswith("/")
    router.message.register(on_reply, SupervisionFlow.reply, typed)
    router.message.register(on_not_text, StateFilter(SupervisionFlow), ~F.text)
    return router
