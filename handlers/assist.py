"""室组联动 in the chat: 协办进展 (a 协办 team's note) and 协办 (the lead team leader adds or
removes 协办 teams from a keyboard of teams), on /case, /assist and a 协办 notice.

协办进展 asks for the note as text and ends with ``assist.add_assist_progress``, which checks
everything again; adding or removing a team is one press (``assist.add_assist_team`` /
``remove_assist_team``). One handler per button or step; the acting person comes from
``handlers.actor``.
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.services.assist import (
    AssistPanel,
    add_assist_progress,
    add_assist_team,
    assist_options,
    assist_panel,
    check_assist_progress,
    remove_assist_team,
)
from bot.services.case_lists import show_case
from handlers.actor import with_actor
from handlers.staff_steps import cmd_cancel, on_not_text, open_step, step_case_id, step_ends
from models.errors import InvalidInput
from models.team import Inspector
from notifications.render import render
from notifications.telegram import (
    AssistAct,
    AssistAction,
    assist_teams_keyboard,
    staff_button,
)


class AssistFlow(StatesGroup):
    note = State()  # 协办进展: waiting for the text


def _teams_text(panel: AssistPanel) -> str:
    return render(
        "staff_assist_teams",
        number=panel.number,
        lead=panel.lead,
        teams=[t.name for t in panel.teams],
        manage=panel.may_manage,
        can_add=bool(panel.targets),
        progress=panel.may_progress,
    )


def _panel_keyboard(case_id: int, panel: AssistPanel) -> InlineKeyboardMarkup | None:
    """The teams to add or remove (the lead team leader), 协办进展 (a 协办 team)."""
    rows = []
    if panel.may_manage:
        rows += assist_teams_keyboard(
            case_id, targets=panel.targets, current=panel.teams
        ).inline_keyboard
    if panel.may_progress:
        rows.append(staff_button("协办进展", AssistAction(act=AssistAct.PROGRESS, case_id=case_id)))
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


async def on_progress_start(
    query: CallbackQuery,
    *,
    callback_data: AssistAction,
    session: AsyncSession,
    actor: Inspector,
    state: FSMContext,
    bot: Bot,
) -> None:
    case = await check_assist_progress(session, actor, callback_data.case_id)
    ask = render("staff_assist_progress_ask", number=case.number)
    await open_step(query, state, bot, case_id=callback_data.case_id, step=AssistFlow.note, ask=ask)


async def on_note(
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
        added = await add_assist_progress(
            session, actor, case_id, note=message.text or "", now=clock.now()
        )
    await message.answer(render("staff_assist_progress_added", number=added.case.number))


async def on_teams(
    query: CallbackQuery,
    *,
    callback_data: AssistAction,
    session: AsyncSession,
    actor: Inspector,
    bot: Bot,
) -> None:
    panel = await assist_options(session, actor, callback_data.case_id)
    await query.answer()
    keyboard = _panel_keyboard(callback_data.case_id, panel)
    await bot.send_message(query.from_user.id, _teams_text(panel), reply_markup=keyboard)


async def on_add(
    query: CallbackQuery,
    *,
    callback_data: AssistAction,
    session: AsyncSession,
    actor: Inspector,
    bot: Bot,
    clock: Clock,
) -> None:
    change = await add_assist_team(
        session, actor, callback_data.case_id, team_id=callback_data.team_id, now=clock.now()
    )
    await query.answer("已增加协办组")
    text = render("staff_assist_added", number=change.case.number, team=change.team.name)
    await bot.send_message(query.from_user.id, text)


async def on_remove(
    query: CallbackQuery,
    *,
    callback_data: AssistAction,
    session: AsyncSession,
    actor: Inspector,
    bot: Bot,
    clock: Clock,
) -> None:
    change = await remove_assist_team(
        session, actor, callback_data.case_id, team_id=callback_data.team_id, now=clock.now()
    )
    await query.answer("已撤销协办组")
    text = render("staff_assist_removed", number=change.case.number, team=change.team.name)
    await bot.send_message(query.from_user.id, text)


async def cmd_assist(
    message: Message, command: CommandObject, *, session: AsyncSession, actor: Inspector,
    clock: Clock,
) -> None:  # fmt: skip
    """/assist <编号>: the case's 协办 teams; the lead team leader adds or removes them, a 协办
    team's member records 协办进展."""
    number = (command.args or "").strip()
    if not number:
        raise InvalidInput("请在命令后写上问题编号，例如 /assist AJ-2026-00042。")
    detail = await show_case(session, actor, number, clock.now())  # the view check
    assert detail.case.id is not None
    panel = await assist_panel(session, actor, detail.case)
    keyboard = _panel_keyboard(detail.case.id, panel)
    await message.answer(_teams_text(panel), reply_markup=keyboard)


def setup() -> Router:
    router = with_actor(Router(name=__name__))
    action = AssistAction.filter
    router.callback_query.register(on_progress_start, action(F.act == AssistAct.PROGRESS))
    router.callback_query.register(on_teams, action(F.act == AssistAct.TEAMS))
    router.callback_query.register(on_add, action(F.act == AssistAct.ADD))
    router.callback_query.register(on_remove, action(F.act == AssistAct.REMOVE))
    router.message.register(cmd_assist, Command("assist"))
    router.message.register(cmd_cancel, StateFilter(AssistFlow), Command("cancel"))
    typed = F.text & ~F.text.startswith("/")
    router.message.register(on_note, AssistFlow.note, typed)
    router.message.register(on_not_text, StateFilter(AssistFlow), ~F.text)
    return router
