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

A ``SideStep`` is a step a reporter enters from wherever they were (a report half written, a
reply under way): 回复, 不满意's reason, 防打击报复回访's details, 异议. It keeps where they were
and goes back there when it ends — answered, cancelled (/cancel), or refused for good (the
question or the case closed meanwhile: no retry can succeed, so the step does not stay open).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import StateType

from models.errors import NotFound, PermissionDenied, StaleAction
from models.intake import open_ref, seal_ref

OVER = (StaleAction, NotFound, PermissionDenied)
"""Refusals no retry can turn (the question answered or closed, the case closed or gone, not
theirs): a side step refused so ends anyway."""


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
    state: FSMContext,
    to: StateType,
    data: Mapping[str, Any],
    *,
    ends_on: tuple[type[BaseException], ...] = (),
) -> AsyncIterator[Before]:
    """The step ends at ``to`` with ``data`` (e.g. back where the person was before it),
    committed with the use case run inside the block; put back if the block raises — unless
    with one of ``ends_on``, after which the step could never go through."""
    before = Before(state, await state.get_state(), await state.get_data())
    await state.set_data(dict(data))
    await state.set_state(to)
    try:
        yield before
    except ends_on:
        raise
    except BaseException:
        await before.restore()
        raise


@asynccontextmanager
async def flow_ends(
    state: FSMContext,
    *,
    at: State | None = None,
    ends_on: tuple[type[BaseException], ...] = (),
) -> AsyncIterator[Before]:
    """The conversation ends (no state, no data), committed with the use case run inside the
    block; put back if the block raises (but for ``ends_on``, as ``flow_moves``). With ``at``,
    only a conversation at that step ends and any other is left as it is."""
    if at is not None and await state.get_state() != at.state:
        yield Before(state, None, {}, moved=False)
        return
    async with flow_moves(state, None, {}, ends_on=ends_on) as before:
        yield before


_SIDE_STEPS: dict[str, SideStep] = {}
"""Every side step by its state (each registers itself)."""


def side_step(state: str | None) -> SideStep | None:
    """The side step the conversation is in, if any."""
    return _SIDE_STEPS.get(state) if state is not None else None


@dataclass(frozen=True, slots=True)
class SideStep:
    """A step entered from wherever the reporter was: its ``state``, the conversation key of the
    case (or question) it waits on (``ref_key``, sealed: ``models.intake.seal_ref``), the key
    that keeps where they were (``return_key``), and what /cancel tells them (a template)."""

    state: State
    ref_key: str
    return_key: str
    cancelled: str

    def __post_init__(self) -> None:
        assert self.state.state is not None, "a side step's state belongs to a StatesGroup"
        _SIDE_STEPS[self.state.state] = self

    async def enter(self, context: FSMContext, ref: int | None) -> None:
        """Into the step for ``ref``; pressed again while in it, where they were stays kept. One
        side step at a time: entered from another, that one is left first (its button may be
        pressed again), so the way back always leads to where the reporter was before both."""
        current = await context.get_state()
        other = side_step(current)
        if other is not None and other is not self:
            await other.leave(context)
            current = await context.get_state()
        if current != self.state.state:
            await context.update_data({self.return_key: current})
        await context.update_data({self.ref_key: seal_ref(self.ref_key, ref)})
        await context.set_state(self.state)

    def ref(self, data: Mapping[str, Any]) -> int | None:
        """The id the step waits on (None: the step is out of date)."""
        return open_ref(self.ref_key, data.get(self.ref_key))

    def before(self, data: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
        """Where the reporter was: the state and the data to go back to."""
        rest = dict(data)
        previous = rest.pop(self.return_key, None)
        rest.pop(self.ref_key, None)
        return previous, rest

    @asynccontextmanager
    async def leaving(self, context: FSMContext) -> AsyncIterator[None]:
        """Out of the step (if in it), back where the reporter was, with the use case run inside
        the block: a refusal keeps the step open to try again, unless it is one of ``OVER``."""
        if await context.get_state() != self.state.state:
            yield
            return
        previous, rest = self.before(await context.get_data())
        async with flow_moves(context, previous, rest, ends_on=OVER):
            yield

    async def leave(self, context: FSMContext) -> None:
        """Out of the step now (/cancel, or out of date), back where the reporter was."""
        previous, rest = self.before(await context.get_data())
        await context.set_data(rest)
        await context.set_state(previous)
