"""A conversation step that a use case ends: the state it leaves goes in with the use case's commit.

The step's new state is written before the use case runs. Within an update the FSM storage holds
the writes and puts them into the first transaction the update commits
(``bot.middlewares.UpdateDeduplication``), so the use case's change and the end of the step commit
together: a crash right after the commit cannot leave the person in the step with their input
there to be sent again (a second 完成 adding the same materials twice). If the use case refuses
(a ``DomainError``) or fails, the state is put back before the error propagates, so the person
stays in the step with what they entered and can try again.

    async with flow_ends(state):
        added = await add_material(...)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import StateType


@dataclass(frozen=True, slots=True)
class Before:
    """Where the person was when the step began, to go back to."""

    context: FSMContext
    state: str | None
    data: dict[str, Any]
    moved: bool = True

    async def restore(self) -> None:
        """Back to the step, with what the person had entered (the draft first, then the state,
        so a storage that writes at once never holds the step without its data)."""
        if self.moved:
            await self.context.set_data(self.data)
            await self.context.set_state(self.state)


@asynccontextmanager
async def flow_moves(
    state: FSMContext, to: StateType, data: Mapping[str, Any]
) -> AsyncIterator[Before]:
    """The step ends at ``to`` with ``data`` (e.g. back where the person was before it),
    committed with the use case run inside the block; put back if the block raises."""
    before = Before(state, await state.get_state(), await state.get_data())
    await state.set_data(dict(data))
    await state.set_state(to)
    try:
        yield before
    except BaseException:
        await before.restore()
        raise


@asynccontextmanager
async def flow_ends(state: FSMContext, *, at: State | None = None) -> AsyncIterator[Before]:
    """The conversation ends (no state, no data), committed with the use case run inside the
    block; put back if the block raises. With ``at``, only a conversation at that step ends and
    any other is left as it is."""
    if at is not None and await state.get_state() != at.state:
        yield Before(state, None, {}, moved=False)
        return
    async with flow_moves(state, None, {}) as before:
        yield before
