"""The reporter answers an inspector's question: 回复 under the relayed question, then text.

The answer is re-sent as text by the bot, never forwarded, so neither side sees the other's
Telegram account. Whatever the reporter was doing before (a draft report) resumes afterwards.
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message, User
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.services.policy import Policy
from bot.services.relay import answer_question, check_relay, load_reporter
from handlers.flow import SideStep
from models.errors import StaleAction
from notifications.render import render
from notifications.telegram import RelayReply


class RelayFlow(StatesGroup):
    answer = State()


STEP = SideStep(
    RelayFlow.answer,
    ref_key="relay_id",
    return_key="relay_previous_state",
    cancelled="reply_reporter_relay_cancelled",
)


async def on_reply_pressed(
    query: CallbackQuery,
    callback_data: RelayReply,
    session: AsyncSession,
    state: FSMContext,
    bot: Bot,
) -> None:
    reporter = await load_reporter(session, query.from_user.id)
    relay = await check_relay(session, reporter, callback_data.relay_id)
    await STEP.enter(state, relay.id)
    await query.answer()
    await bot.send_message(query.from_user.id, render("reply_reporter_relay_ask"))


async def on_answer(
    message: Message,
    *,
    event_from_user: User,
    session: AsyncSession,
    state: FSMContext,
    policy: Policy,
    clock: Clock,
) -> None:
    reporter = await load_reporter(session, event_from_user.id)
    relay_id = STEP.ref(await state.get_data())
    if relay_id is None:
        await STEP.leave(state)
        raise StaleAction
    async with STEP.leaving(state):
        await answer_question(
            session,
            reporter,
            relay_id,
            answer=message.text or "",
            policy=policy,
            now=clock.now(),
        )
    await message.answer(render("reply_reporter_relay_sent"))


async def on_not_text(message: Message) -> None:
    await message.answer(render("reply_reporter_relay_text_only"))


def setup() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(on_reply_pressed, RelayReply.filter())
    router.message.register(on_answer, RelayFlow.answer, F.text & ~F.text.startswith("/"))
    router.message.register(on_not_text, RelayFlow.answer, ~F.text)
    return router
