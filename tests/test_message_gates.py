"""A router's messages gated in one check (``bot.gates``): a message goes past a router none of
whose handlers could take it without each handler being tried, and reaches the same handler as
before."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from aiogram import Bot, F, Router
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.filters import Command, CommandStart, StateFilter, or_f
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Chat, Message, User

import handlers
from bot.gates import STATES, MessageGate, gate_messages
from tests.harness import BOT_ID, RecordingSession, Telegram
from tests.intake_helpers import TOKEN, state_of

pytestmark = pytest.mark.asyncio

REPORTER = User(id=7_100_001, is_bot=False, first_name="宋利剑")
TEXTS = (
    "园区管委会承诺的返还款至今未到位",
    "/start",
    "/start c_abcdefghijklmnopqrst",
    "/START",
    "  /queue",
    "/queue@LiankaTestBot 3",
    "/queue@SomeoneElseBot",
    "/cancel",
    "/report",
    "/unknown",
    "/",
    "  ",
    "",
)
_ids = itertools.count(1)


def _message(text: str | None = None, caption: str | None = None) -> Message:
    return Message(
        message_id=next(_ids),
        date=datetime.now(UTC),
        chat=Chat(id=REPORTER.id, type="private"),
        from_user=REPORTER,
        text=text,
        caption=caption,
    )


def _messages() -> list[Message]:
    return [
        *(_message(text=text) for text in TEXTS if text),
        *(_message(caption=text) for text in TEXTS if text),
        _message(),  # a sticker, a location: no text, no caption
    ]


def _gated_routers() -> list[tuple[Router, MessageGate]]:
    root = Router()
    for router in handlers.routers():
        root.include_router(router)
    gate_messages(root)
    return [
        (router, gate)
        for router in root.sub_routers
        for gate in (f.callback for f in router.message._handler.filters or ())
        if isinstance(gate, MessageGate)
    ]


def _every_state(gated: list[tuple[Router, MessageGate]]) -> list[str | None]:
    named = {state for _, gate in gated for state in gate.states}
    return [*sorted(named - {None}, key=str), None, "Elsewhere:unknown"]


async def _own_check(handler: HandlerObject, message: Message, state: str | None, bot: Bot) -> bool:
    """Whether ``handler``'s own state filter (or, without one, its command filter) takes the
    message: the one condition of it the gate reads."""
    checks = [each.callback for each in handler.filters or ()]
    for check in checks:
        if isinstance(check, StateFilter):
            return bool(await check(message, raw_state=state))
        if isinstance(check, STATES):
            return bool(check(message, raw_state=state))
    command = next(check for check in checks if isinstance(check, Command))
    return bool(await command(message, bot))


async def test_every_message_a_handler_could_take_passes_its_routers_gate() -> None:
    bot = Bot(f"{BOT_ID}:TEST", session=RecordingSession())
    gated = _gated_routers()
    states = _every_state(gated)
    taken = 0
    for router, gate in gated:
        for message, state in itertools.product(_messages(), states):
            for handler in router.message.handlers:
                if await _own_check(handler, message, state, bot):
                    taken += 1
                    assert await gate(message, raw_state=state), (router.name, message, state)
    assert taken > 100  # the samples reach the handlers: states, commands, captions


async def test_messages_no_handler_of_a_router_could_take_are_stopped_at_its_gate() -> None:
    gated = dict((router.name, gate) for router, gate in _gated_routers())
    description = _message(text="园区管委会承诺的返还款至今未到位")
    staff = ("handlers.inspector", "handlers.leader", "handlers.admin", "handlers.rectification")
    for name in staff:
        assert not await gated[name](description, raw_state="Intake:description")
    assert await gated["handlers.intake"](description, raw_state="Intake:description")
    assert await gated["handlers.leader"](_message(text="/queue"))
    assert not await gated["handlers.leader"](_message(text="/start"))
    assert await gated["handlers.start.fallback"](description, raw_state=None)


async def test_every_journey_of_the_bot_has_its_messages_gated() -> None:
    with_handlers = [r.name for r in handlers.routers() if r.message.handlers]
    assert sorted(router.name for router, _ in _gated_routers()) == sorted(with_handlers)


async def test_a_reporters_description_is_not_tried_on_the_staffs_handlers(
    telegram: Telegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    tried: list[str] = []
    check = HandlerObject.check

    async def counted(self: HandlerObject, *args: Any, **kwargs: Any) -> Any:
        router = kwargs.get("event_router")
        if self.filters and router is not None and self in router.message.handlers:
            tried.append(router.name)
        return await check(self, *args, **kwargs)

    user = telegram.user()
    await user.start(TOKEN)
    await user.click("反映问题")
    await user.click("营商环境")
    monkeypatch.setattr(HandlerObject, "check", counted)
    await user.send("园区管委会承诺的土地出让金返还至今未到位，请帮助协调。")
    monkeypatch.undo()

    assert set(tried) == {"handlers.intake"}
    state, draft = await state_of(telegram, user)
    assert state == "Intake:evidence"
    assert draft["description"].startswith("园区管委会承诺的土地出让金")


class Flow(StatesGroup):
    step = State()


def _router(*filters: Any) -> Router:
    router = Router(name="under-test")

    async def handler(_message: Message) -> None:
        return None

    router.message.register(handler, *filters)
    return router


@pytest.mark.parametrize(
    "filters",
    [
        (F.text == "你好",),  # neither states nor commands
        (StateFilter("*"),),  # any state
        (State(state="*"),),
        (or_f(Flow.step, F.text),),  # a combination the gate cannot read
    ],
    ids=["plain-filter", "any-state", "any-state-object", "combined"],
)
async def test_a_router_whose_handler_could_take_any_message_is_left_ungated(
    filters: tuple[Any, ...],
) -> None:
    root = Router()
    root.include_router(_router(*filters))
    gate_messages(root)
    assert not root.sub_routers[0].message._handler.filters


async def test_a_router_with_routers_of_its_own_is_left_ungated() -> None:
    outer = _router(Command("help"))
    outer.include_router(_router(F.text))
    root = Router()
    root.include_router(outer)
    gate_messages(root)
    assert not outer.message._handler.filters


async def test_a_command_by_pattern_lets_any_command_through() -> None:
    root = Router()
    root.include_router(_router(Command(re.compile(r"case_\d+"))))
    gate_messages(root)
    (gate,) = (f.callback for f in root.sub_routers[0].message._handler.filters or ())
    assert isinstance(gate, MessageGate)
    assert await gate(_message(text="/case_12"))
    assert await gate(_message(text="/anything"))
    assert not await gate(_message(text="case_12"))


async def test_a_group_of_states_and_a_command_start_are_read() -> None:
    root = Router()
    root.include_router(_router(StateFilter(Flow)))
    root.include_router(_router(CommandStart(deep_link=True)))
    root.include_router(_router(StateFilter(None)))
    gate_messages(root)
    gates = [r.message._handler.filters[0].callback for r in root.sub_routers]  # type: ignore[index]
    in_flow, start, no_state = gates
    assert await in_flow(_message(text="说明"), raw_state="Flow:step")
    assert not await in_flow(_message(text="说明"), raw_state=None)
    assert await start(_message(text="/start c_abc"))
    assert not await start(_message(text="start"))
    assert await no_state(_message(text="说明"), raw_state=None)
    assert not await no_state(_message(text="说明"), raw_state="Flow:step")
