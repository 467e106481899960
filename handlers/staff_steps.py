"""How a staff conversation step about a case opens, and what every step answers alike (the inspector's case steps, 反馈整改 and
核验, 督办回复, 协办进展): /cancel leaves the step, a photo or sticker where words are asked for is
answered with what to send, and so is text where a button is expected. Each router registers
them for its own states."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any

from aiogram import Bot
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from handlers.flow import OVER, Before, flow_ends
from models.errors import StaleAction
from notifications.render import render


async def cmd_cancel(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(render("staff_cancelled"))


def step_ends(state: FSMContext) -> AbstractAsyncContextManager[Before]:
    """The step ends with its use case, committed together (``flow_ends``): a refusal worth
    another try keeps it open with what was typed; one no retry can turn (``OVER``: the case
    moved on, went to someone else, closed) ends it too, the refusal said once — else every
    later message would be read as the step's input and refused again."""
    return flow_ends(state, ends_on=OVER)


async def on_not_text(message: Message) -> None:
    await message.answer(render("staff_type_text"))


async def on_text_instead_of_button(message: Message) -> None:
    await message.answer(render("staff_press_button"))


def step_case_id(data: Mapping[str, Any]) -> int:
    """The case a step is about, as ``open_step`` remembered it. A step whose data is gone (the
    conversation cleared elsewhere, or older than this version) is answered as stale."""
    if "case_id" not in data:
        raise StaleAction(detail="a staff step without its case")
    return int(data["case_id"])


async def open_step(
    query: CallbackQuery,
    state: FSMContext,
    bot: Bot,
    *,
    case_id: int,
    step: State,
    ask: str,
    keyboard: InlineKeyboardMarkup | None = None,
) -> None:
    """A button that starts a step about a case (checked by the caller): the case remembered,
    the step entered, the press answered, and the question sent to the person's chat."""
    await state.set_data({"case_id": case_id})
    await state.set_state(step)
    await query.answer()
    await bot.send_message(query.from_user.id, ask, reply_markup=keyboard)
