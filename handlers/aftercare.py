"""防打击报复回访: the reporter's 没有 · 有 buttons, and after 有 the short description (or
直接提交). Every press and the description are authorised again from the database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.metrics import Metrics
from bot.services.aftercare import Opened, answer_by_chat, check_text, get_aftercare_case
from bot.services.policy import Policy
from handlers.flow import flow_moves
from models.errors import StaleAction
from notifications.render import render
from notifications.telegram import AftercareAnswer, AftercareReply, aftercare_submit_keyboard

CASE_KEY = "aftercare_case_id"
RETURN_KEY = "aftercare_return_state"


class AftercareStates(StatesGroup):
    description = State()


async def _opened(message: Message, opened: Opened) -> None:
    await message.answer(
        render("aftercare_opened", number=opened.clue.number, receipt_code=opened.receipt_code)
    )


async def _ask_description(
    query: CallbackQuery, session: AsyncSession, state: FSMContext, case_id: int
) -> None:
    """有: the description is asked for (a report being written is kept, resumed afterwards)."""
    case, _ = await get_aftercare_case(session, query.from_user.id, case_id)
    current = await state.get_state()
    if current != AftercareStates.description.state:
        await state.update_data({RETURN_KEY: current})
    await state.update_data({CASE_KEY: case.id})
    await state.set_state(AftercareStates.description)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(
            render("aftercare_describe_ask"), reply_markup=aftercare_submit_keyboard(case_id)
        )


async def on_aftercare_answer(
    query: CallbackQuery,
    callback_data: AftercareAnswer,
    *,
    session: AsyncSession,
    state: FSMContext,
    policy: Policy,
    clock: Clock,
    metrics: Metrics,
) -> None:
    if callback_data.reply is AftercareReply.YES:
        await _ask_description(query, session, state, callback_data.case_id)
        return
    retaliated = callback_data.reply is AftercareReply.SUBMIT
    async with _leaving(state):
        opened = await answer_by_chat(
            session, query.from_user.id, callback_data.case_id, retaliated=retaliated, text=None,
            policy=policy, now=clock.now(), counted=metrics.cases_submitted,
        )  # fmt: skip
    await query.answer("感谢您的反馈！")
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        if opened is None:
            await query.message.answer(render("aftercare_thanks"))
        else:
            await _opened(query.message, opened)


@asynccontextmanager
async def _leaving(state: FSMContext) -> AsyncIterator[None]:
    """Out of the description step (if in it) with the answer saved, back where the person
    was; a refusal keeps the step open (``flow_moves``)."""
    if await state.get_state() != AftercareStates.description.state:
        yield
        return
    data = await state.get_data()
    previous = data.pop(RETURN_KEY, None)
    data.pop(CASE_KEY, None)
    async with flow_moves(state, previous, data):
        yield


async def on_aftercare_description(
    message: Message,
    *,
    session: AsyncSession,
    state: FSMContext,
    policy: Policy,
    clock: Clock,
    metrics: Metrics,
) -> None:
    text = check_text(message.text)
    case_id = (await state.get_data()).get(CASE_KEY)
    if case_id is None or message.from_user is None:
        raise StaleAction
    async with _leaving(state):
        opened = await answer_by_chat(
            session, message.from_user.id, case_id, retaliated=True, text=text, policy=policy,
            now=clock.now(), counted=metrics.cases_submitted,
        )  # fmt: skip
    assert opened is not None
    await _opened(message, opened)


async def on_aftercare_not_text(message: Message) -> None:
    await message.answer(render("aftercare_text_only"))


def setup() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(on_aftercare_answer, AftercareAnswer.filter())
    # a command is not a description: /cancel, /help … are handled by their own routers
    router.message.register(
        on_aftercare_description, AftercareStates.description, F.text, ~F.text.startswith("/")
    )
    router.message.register(on_aftercare_not_text, AftercareStates.description)
    return router
