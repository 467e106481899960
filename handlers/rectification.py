"""反馈整改 and 核验整改 in the chat: the two buttons on the inspector's case card; and the team
leader's 撤销整改要求 from /case (a reason asked for).

反馈整改 asks for the 整改事项, the 责任单位 and the working days (buttons, or typed); 核验整改
shows the requirement and asks 通过 or 未通过, then the note. Each step keeps what was entered
when the input is refused; the use cases (``bot.services.rectification``) check everything again
at the end. The acting person comes from ``handlers.actor``.
"""

from __future__ import annotations

from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.services.permissions import clean_note
from bot.services.policy import Policy
from bot.services.rectification import (
    check_set,
    check_verify,
    check_withdraw,
    parse_workdays,
    set_rectification,
    verify_rectification,
    withdraw_rectification,
)
from handlers.actor import with_actor
from handlers.staff_steps import (
    cmd_cancel,
    on_not_text,
    on_text_instead_of_button,
    open_step,
    step_case_id,
    step_ends,
)
from models.errors import StaleAction
from models.rectification import REQUIREMENT_MAX, UNIT_MAX
from models.team import Inspector
from models.types import utc
from notifications.render import render
from notifications.telegram import (
    CaseAct,
    CaseAction,
    CaseChoice,
    CaseStep,
    TeamAct,
    TeamAction,
    rectify_days_keyboard,
    verify_result_keyboard,
)


class RectifyFlow(StatesGroup):
    requirement = State()  # 整改事项
    unit = State()  # 责任单位
    days = State()  # 工作日
    result = State()  # 核验: 通过 or 未通过 (a button)
    note = State()  # 核验情况
    withdraw_reason = State()  # 撤销整改要求: the team leader's reason


async def _flow_data(state: FSMContext, expected: State, case_id: int | None) -> dict[str, Any]:
    """The conversation's data, if it is at ``expected`` (and about ``case_id``)."""
    data = await state.get_data()
    if await state.get_state() != expected.state or (
        case_id is not None and data.get("case_id") != case_id
    ):
        raise StaleAction(detail="rectification choice outside its conversation")
    return data


# --- 反馈整改 ---


async def on_rectify(
    query: CallbackQuery,
    *,
    callback_data: CaseAction,
    session: AsyncSession,
    actor: Inspector,
    state: FSMContext,
    bot: Bot,
) -> None:
    case = await check_set(session, actor, callback_data.case_id)
    ask = render("staff_rectify_requirement_ask", number=case.number, limit=REQUIREMENT_MAX)
    await open_step(
        query, state, bot, case_id=callback_data.case_id, step=RectifyFlow.requirement, ask=ask
    )


async def on_requirement(message: Message, actor: Inspector, state: FSMContext) -> None:
    """整改事项; ``actor`` is not used, but only an active inspector takes the step."""
    requirement = clean_note(message.text or "", "整改事项", REQUIREMENT_MAX)
    await state.update_data(requirement=requirement)
    await state.set_state(RectifyFlow.unit)
    await message.answer(render("staff_rectify_unit_ask", limit=UNIT_MAX))


async def on_unit(message: Message, actor: Inspector, state: FSMContext, policy: Policy) -> None:
    """责任单位; ``actor`` is not used, but only an active inspector takes the step."""
    unit = clean_note(message.text or "", "责任单位", UNIT_MAX)
    data = await state.update_data(unit=unit)
    await state.set_state(RectifyFlow.days)
    most = policy.config.rectification.max_days
    keyboard = rectify_days_keyboard(step_case_id(data))
    await message.answer(render("staff_rectify_days_ask", most=most), reply_markup=keyboard)


async def _set(bot: Bot, chat_id: int, days: int, *, ctx: dict[str, Any]) -> None:
    """The end of 反馈整改: the use case, then the answer in the chat."""
    state: FSMContext = ctx["state"]
    data = await state.get_data()
    async with step_ends(state):
        done = await set_rectification(
            ctx["session"], ctx["actor"], step_case_id(data), requirement=data["requirement"],
            unit=data["unit"], days=days, policy=ctx["policy"], now=ctx["clock"].now(),
        )  # fmt: skip
    row = done.rectification
    text = render(
        "staff_rectified", unit=row.unit, due=row.due_at, provisional=row.provisional,
        later=done.after_resolve_due,
    )  # fmt: skip
    await bot.send_message(chat_id, text)


async def on_days_typed(
    message: Message,
    *,
    session: AsyncSession,
    actor: Inspector,
    state: FSMContext,
    bot: Bot,
    policy: Policy,
    clock: Clock,
) -> None:
    days = parse_workdays(message.text or "", policy)
    ctx = {"session": session, "actor": actor, "state": state, "policy": policy, "clock": clock}
    await _set(bot, message.chat.id, days, ctx=ctx)


async def on_days_chosen(
    query: CallbackQuery,
    *,
    callback_data: CaseChoice,
    session: AsyncSession,
    actor: Inspector,
    state: FSMContext,
    bot: Bot,
    policy: Policy,
    clock: Clock,
) -> None:
    await _flow_data(state, RectifyFlow.days, callback_data.case_id)
    days = parse_workdays(callback_data.value, policy)
    ctx = {"session": session, "actor": actor, "state": state, "policy": policy, "clock": clock}
    await _set(bot, query.from_user.id, days, ctx=ctx)
    await query.answer("已要求整改")


# --- 核验整改 ---


async def on_verify(
    query: CallbackQuery,
    *,
    callback_data: CaseAction,
    session: AsyncSession,
    actor: Inspector,
    state: FSMContext,
    bot: Bot,
    clock: Clock,
) -> None:
    case, row = await check_verify(session, actor, callback_data.case_id)
    ask = render(
        "staff_verify_ask", number=case.number, unit=row.unit, requirement=row.requirement,
        due=row.due_at, overdue=utc(clock.now()) > row.due_at,
    )  # fmt: skip
    await open_step(
        query, state, bot, case_id=callback_data.case_id, step=RectifyFlow.result, ask=ask,
        keyboard=verify_result_keyboard(callback_data.case_id),
    )  # fmt: skip


async def on_result(
    query: CallbackQuery,
    *,
    callback_data: CaseChoice,
    session: AsyncSession,
    actor: Inspector,
    state: FSMContext,
    bot: Bot,
) -> None:
    await _flow_data(state, RectifyFlow.result, callback_data.case_id)
    await check_verify(session, actor, callback_data.case_id)
    passed = callback_data.value == "1"
    await state.update_data(passed=passed)
    await state.set_state(RectifyFlow.note)
    await query.answer("通过" if passed else "未通过")
    await bot.send_message(query.from_user.id, render("staff_verify_note_ask", passed=passed))


async def on_note(
    message: Message,
    *,
    session: AsyncSession,
    actor: Inspector,
    state: FSMContext,
    clock: Clock,
) -> None:
    data = await state.get_data()
    async with step_ends(state):
        done = await verify_rectification(
            session, actor, step_case_id(data), passed=bool(data["passed"]),
            note=message.text or "", now=clock.now(),
        )  # fmt: skip
    row = done.rectification
    text = render(
        "staff_verified", number=done.case.number, passed=done.passed, late=bool(row.late),
        due=row.due_at,
    )  # fmt: skip
    await message.answer(text)


# --- 撤销整改要求 (the team leader, from /case) ---


async def on_withdraw(
    query: CallbackQuery,
    *,
    callback_data: TeamAction,
    session: AsyncSession,
    actor: Inspector,
    state: FSMContext,
    bot: Bot,
) -> None:
    case, row, _ = await check_withdraw(session, actor, callback_data.case_id)
    ask = render(
        "staff_withdraw_rectification_ask", number=case.number, unit=row.unit,
        requirement=row.requirement,
    )  # fmt: skip
    await open_step(
        query, state, bot, case_id=callback_data.case_id, step=RectifyFlow.withdraw_reason,
        ask=ask,
    )  # fmt: skip


async def on_withdraw_reason(
    message: Message,
    *,
    session: AsyncSession,
    actor: Inspector,
    state: FSMContext,
    clock: Clock,
) -> None:
    data = await state.get_data()
    async with step_ends(state):
        done = await withdraw_rectification(
            session, actor, step_case_id(data), reason=message.text or "", now=clock.now()
        )
    await message.answer(
        render(
            "staff_rectification_withdrawn", unit=done.rectification.unit, told=done.told_assignee
        )
    )


def setup() -> Router:
    router = with_actor(Router(name=__name__))
    act, step = CaseAction.filter, CaseChoice.filter
    router.callback_query.register(on_rectify, act(F.act == CaseAct.RECTIFY))
    router.callback_query.register(on_verify, act(F.act == CaseAct.VERIFY))
    router.callback_query.register(on_days_chosen, step(F.step == CaseStep.RECTIFY_DAYS))
    router.callback_query.register(on_result, step(F.step == CaseStep.VERIFIED))
    withdraw = TeamAction.filter(F.act == TeamAct.WITHDRAW_RECTIFY)
    router.callback_query.register(on_withdraw, withdraw)
    router.message.register(cmd_cancel, StateFilter(RectifyFlow), Command("cancel"))
    typed = F.text & ~F.text.startswith("/")
    router.message.register(on_requirement, RectifyFlow.requirement, typed)
    router.message.register(on_unit, RectifyFlow.unit, typed)
    router.message.register(on_days_typed, RectifyFlow.days, typed)
    router.message.register(on_text_instead_of_button, RectifyFlow.result, typed)
    router.message.register(on_note, RectifyFlow.note, typed)
    router.message.register(on_withdraw_reason, RectifyFlow.withdraw_reason, typed)
    router.message.register(on_not_text, StateFilter(RectifyFlow), ~F.text)
    return router
