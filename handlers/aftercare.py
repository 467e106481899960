"""防打击报复回访: the reporter's 没有 · 有 buttons. 有 is recorded and opens the clue at once
(its 受理编号 told); the reporter is then invited to add details, which reach the clue as their
补充材料 (``my_cases.add_material``), or to press 无需补充. Every press and every message are
authorised again from the database."""

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
from bot.services.aftercare import Opened, answer_by_chat
from bot.services.my_cases import add_material
from bot.services.policy import Policy
from handlers.flow import flow_moves
from models.errors import StaleAction
from models.intake import MaterialDraft, open_ref, seal_ref
from notifications.render import render
from notifications.telegram import AftercareAnswer, AftercareReply, aftercare_details_keyboard

CASE_KEY = "aftercare_case_id"  # the clue a 有 opened, whose details are awaited
RETURN_KEY = "aftercare_return_state"


class AftercareStates(StatesGroup):
    details = State()


async def _opened(message: Message, state: FSMContext, opened: Opened) -> None:
    """The clue's 受理编号 (and receipt code) at once; then its details are invited (a report
    being written is kept, resumed afterwards)."""
    assert opened.clue.id is not None
    await message.answer(
        render("aftercare_opened", number=opened.clue.number, receipt_code=opened.receipt_code)
    )
    current = await state.get_state()
    if current != AftercareStates.details.state:
        await state.update_data({RETURN_KEY: current})
    await state.update_data({CASE_KEY: seal_ref(CASE_KEY, opened.clue.id)})
    await state.set_state(AftercareStates.details)
    await message.answer(
        render("aftercare_describe_ask"),
        reply_markup=aftercare_details_keyboard(opened.clue.id),
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
    if callback_data.reply is AftercareReply.DONE:
        await _no_details(query, state)
        return
    async with _leaving(state):
        opened = await answer_by_chat(
            session, query.from_user.id, callback_data.case_id,
            retaliated=callback_data.reply is not AftercareReply.NONE, text=None,
            policy=policy, now=clock.now(), counted=metrics.cases_submitted,
        )  # fmt: skip
    await query.answer("感谢您的反馈！")
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        if opened is None:
            await query.message.answer(render("aftercare_thanks"))
        else:
            await _opened(query.message, state, opened)


async def _no_details(query: CallbackQuery, state: FSMContext) -> None:
    """无需补充: out of the details step (if still in it), back where the person was."""
    async with _leaving(state):
        pass
    await query.answer("好的，感谢您的反馈！")
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)


@asynccontextmanager
async def _leaving(state: FSMContext) -> AsyncIterator[None]:
    """Out of the details step (if in it), back where the person was; a refusal keeps the step
    open (``flow_moves``)."""
    if await state.get_state() != AftercareStates.details.state:
        yield
        return
    data = await state.get_data()
    previous = data.pop(RETURN_KEY, None)
    data.pop(CASE_KEY, None)
    async with flow_moves(state, previous, data):
        yield


async def on_aftercare_details(
    message: Message, *, session: AsyncSession, state: FSMContext, clock: Clock
) -> None:
    """The details of the opened clue: its reporter's 补充材料, by that use case's own rules."""
    clue_id = open_ref(CASE_KEY, (await state.get_data()).get(CASE_KEY))
    if clue_id is None or message.from_user is None:
        raise StaleAction
    draft = MaterialDraft(clue_id).add_note(message.text or "")
    async with _leaving(state):
        added = await add_material(
            session, message.from_user.id, clue_id, material=draft, now=clock.now()
        )
    await message.answer(render("reply_reporter_material_sent", added=added))


async def on_aftercare_not_text(message: Message) -> None:
    await message.answer(render("aftercare_text_only"))


def setup() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(on_aftercare_answer, AftercareAnswer.filter())
    # a command is not a description: /cancel, /help … are handled by their own routers
    router.message.register(
        on_aftercare_details, AftercareStates.details, F.text, ~F.text.startswith("/")
    )
    router.message.register(on_aftercare_not_text, AftercareStates.details)
    return router
