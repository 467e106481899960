"""防打击报复回访: the reporter's 没有 · 有 buttons. 有 is recorded and opens the clue at once
(its 受理编号 told); the reporter is then invited to add details, which reach the clue as their
补充材料 (``my_cases.add_material``), or to press 无需补充. Every press and every message are
authorised again from the database."""

from __future__ import annotations

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
from handlers.flow import SideStep
from models.errors import StaleAction
from models.intake import MaterialDraft
from notifications.render import render
from notifications.telegram import AftercareAnswer, AftercareReply, aftercare_details_keyboard


class AftercareStates(StatesGroup):
    details = State()


STEP = SideStep(
    AftercareStates.details,
    ref_key="aftercare_case_id",  # the clue a 有 opened, whose details are awaited
    return_key="aftercare_return_state",
    cancelled="aftercare_details_cancelled",
)


async def _opened(message: Message, state: FSMContext, opened: Opened) -> None:
    """The clue's 受理编号 (and receipt code) at once; then its details are invited (a report
    being written is kept, resumed afterwards)."""
    assert opened.clue.id is not None
    await message.answer(
        render("aftercare_opened", number=opened.clue.number, receipt_code=opened.receipt_code)
    )
    await STEP.enter(state, opened.clue.id)
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
    async with STEP.leaving(state):
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
    async with STEP.leaving(state):
        pass
    await query.answer("好的，感谢您的反馈！")
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)


async def on_aftercare_details(
    message: Message, *, session: AsyncSession, state: FSMContext, clock: Clock
) -> None:
    """The details of the opened clue: its reporter's 补充材料, by that use case's own rules."""
    clue_id = STEP.ref(await state.get_data())
    if clue_id is None or message.from_user is None:
        await STEP.leave(state)
        raise StaleAction
    draft = MaterialDraft(clue_id).add_note(message.text or "")
    async with STEP.leaving(state):
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
