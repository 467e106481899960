"""回访: the reporter's 满意 · 基本满意 · 不满意 buttons, and the reason asked after 不满意."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.services.followup import (
    check_reason,
    get_followup_case,
    rate_case,
    reopen_unsatisfied,
)
from bot.services.policy import Policy
from handlers.flow import SideStep
from models.case import Satisfaction
from models.errors import StaleAction
from notifications.render import render
from notifications.telegram import FollowupAnswer, FollowupRating

RATINGS = {
    FollowupRating.SATISFIED: Satisfaction.SATISFIED,
    FollowupRating.BASIC: Satisfaction.BASIC,
    FollowupRating.UNSATISFIED: Satisfaction.UNSATISFIED,
}


class FollowupStates(StatesGroup):
    reason = State()


STEP = SideStep(
    FollowupStates.reason,
    ref_key="followup_case_id",
    return_key="followup_return_state",
    cancelled="followup_reason_cancelled",
)


async def on_followup_rating(
    query: CallbackQuery,
    callback_data: FollowupAnswer,
    session: AsyncSession,
    state: FSMContext,
    clock: Clock,
) -> None:
    if callback_data.rating is FollowupRating.UNSATISFIED:
        case, _ = await get_followup_case(session, query.from_user.id, callback_data.case_id)
        await STEP.enter(state, case.id)  # a report being written resumes after the reason
        await query.answer()
        if isinstance(query.message, Message):
            await query.message.answer(render("followup_reason_ask", case=case))
        return
    rating = RATINGS[callback_data.rating]
    case = await rate_case(
        session, query.from_user.id, callback_data.case_id, rating=rating, now=clock.now()
    )
    await query.answer("感谢您的评价！")
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        await query.message.answer(render("followup_thanks", case=case, rating=rating.label))


async def on_followup_reason(
    message: Message,
    *,
    session: AsyncSession,
    state: FSMContext,
    policy: Policy,
    clock: Clock,
) -> None:
    reason = check_reason(message.text or "")
    case_id = STEP.ref(await state.get_data())
    if case_id is None or message.from_user is None:
        await STEP.leave(state)
        raise StaleAction
    # the step ends with the reason saved, back where the person was (a failure keeps it open)
    async with STEP.leaving(state):
        reopened = await reopen_unsatisfied(
            session, message.from_user.id, case_id, reason=reason, policy=policy, now=clock.now()
        )
    await message.answer(
        render("followup_reopened_reply", case=reopened.case, due_at=reopened.due_at)
    )


async def on_followup_reason_not_text(message: Message) -> None:
    await message.answer(render("followup_reason_text_only"))


def setup() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(on_followup_rating, FollowupAnswer.filter())
    # a command is not a reason: /cancel, /help … are handled by their own routers, and
    # the rest (e.g. /report) are told to finish this step first
    router.message.register(
        on_followup_reason, FollowupStates.reason, F.text, ~F.text.startswith("/")
    )
    router.message.register(on_followup_reason_not_text, FollowupStates.reason)
    return router
