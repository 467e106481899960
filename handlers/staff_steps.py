"""What every staff conversation step answers alike (the inspector's case steps, 反馈整改 and
核验, 督办回复, 协办进展): /cancel leaves the step, a photo or sticker where words are asked for is
answered with what to send, and so is text where a button is expected. Each router registers
them for its own states."""

from __future__ import annotations

from aiogram.fsm.context import FSMContext
from aiogram.types import Message

from notifications.render import render


async def cmd_cancel(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(render("staff_cancelled"))


async def on_not_text(message: Message) -> None:
    await message.answer(render("staff_type_text"))


async def on_text_instead_of_button(message: Message) -> None:
    await message.answer(render("staff_press_button"))
