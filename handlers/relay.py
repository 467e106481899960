"""The reporter answers an inspector's question: 回复 under the relayed question, then text.

The answer is re-sent as text by the bot, never forwarded, so neither side sees the other's
Telegram account. Whatever the reporter was doing before (a draft report) resumes afterwards.
"""

from __future__ import annotations

from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message, User
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.services.policy import Policy
from bot.services.relay import answer_question, check_relay, load_reporter
from handlers.flow import flow_moves
from models.errors import StaleAction
from models.intake import open_ref, seal_ref
from notifications.render import render
from notifications.telegram import RelayReply

PREVIOUS = "relay_previous_state"


class RelayFlow(StatesGroup):
    answer = State()


def _before_reply(data: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """Where the reporter was before pressing 回复: the state and the data to go back to."""
    rest = dict(data)
    previous = rest.pop(PREVIOUS, None)
    rest.pop("relay_id", None)
    return previous, rest


async def on_reply_pressed(
    query: CallbackQuery,
    callback_data: RelayReply,
    session: AsyncSession,
    state: FSMContext,
    bot: Bot,
) -> None:
    reporter = await load_reporter(session, query.from_user.id)
    relay = await check_relay(session, reporter, callback_data.relay_id)
    current = await state.get_state()
    if current != RelayFlow.answer.state:
        await state.update_data({PREVIOUS: current})
    await state.update_data(relay_id=seal_ref("relay_id", relay.id))
    await state.set_state(RelayFlow.answer)
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
    data = await state.get_data()
    relay_id = open_ref("relay_id", data.get("relay_id"))
    if relay_id is None:
        raise StaleAction
    async with flow_moves(state, *_before_reply(data)):
        await answer_question(
            session,
            reporter,
            relay_id,
            answer=message.text or "",
            policy=policy,
            now=clock.now(),
        )
    await message.answer(render("reply_reporter_relay_sent"))


async def cmd_cancel(message: Message, state: FSMContext) -> None:
    previous, data = _before_reply(await state.get_data())
    await state.set_data(data)
    await state.set_state(previous)
    await message.answer(render("reply_reporter_relay_cancelled"))


async def on_not_text(message: Message) -> None:
    await message.answer(render("reply_reporter_relay_text_only"))


def setup() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(on_reply_pressed, RelayReply.filter())
    router.message.register(cmd_cancel, RelayFlow.answer, Command("cancel"))
    router.message.register(on_answer, RelayFlow.answer, F.text & ~F.text.startswith("/"))
    router.message.register(on_not_text, RelayFlow.answer, ~F.text)
    return router
