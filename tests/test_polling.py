"""Long polling confirms an update to Telegram only once it has been handled: what a process had
in hand when it stopped is delivered again to the next one, and nothing is handled twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message

from bot.polling import CommittedPolling
from sandbox import Emulator
from tests.live import BOT_TOKEN


@pytest.fixture
async def bot(emulator: Emulator) -> AsyncIterator[Bot]:
    bot = Bot(BOT_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url)))
    yield bot
    await bot.session.close()


class Recorder:
    """A dispatcher that notes each text it handles; "慢" waits until ``release`` is set."""

    def __init__(self) -> None:
        self.handled: list[str] = []
        self.release = asyncio.Event()
        self.dispatcher = Dispatcher()
        router = Router()
        router.message.register(self.on_text, F.text)
        self.dispatcher.include_router(router)

    async def on_text(self, message: Message) -> None:
        assert message.text is not None
        if message.text == "慢":
            await self.release.wait()
        self.handled.append(message.text)


async def until(condition: Callable[[], bool], within: float = 60.0) -> None:
    """Wait until ``condition`` holds (checked every 20 ms); the limit only stops a hang."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 (a condition on state the tasks change)
            await asyncio.sleep(0.02)


def pending(emulator: Emulator) -> list[int]:
    """The update ids Telegram still holds, unconfirmed."""
    return [update["update_id"] for update in emulator.bot().updates]


async def test_an_update_in_hand_holds_back_the_confirmation_of_those_after_it(
    emulator: Emulator, bot: Bot
) -> None:
    recorder = Recorder()
    user = emulator.add_user(601, "王立新")
    for text in ("慢", "一", "二"):
        user.send(text)
    stop = asyncio.Event()
    poller = CommittedPolling(recorder.dispatcher, bot, timeout=1, idle_check=0.05)
    polling = asyncio.create_task(poller.run(stop))
    try:
        await until(lambda: recorder.handled == ["一", "二"])
        await asyncio.sleep(0.3)  # several more polls
        assert pending(emulator) == [1, 2, 3]  # the first is in hand: nothing confirmed
        assert poller.offset == 1

        recorder.release.set()
        await until(lambda: recorder.handled == ["一", "二", "慢"])
        user.send("三")
        await until(lambda: "三" in recorder.handled)
        await until(lambda: min(pending(emulator), default=4) >= 4)  # 1–3 confirmed
    finally:
        stop.set()
        await polling
    assert pending(emulator) == []  # the last one confirmed on the way out
    assert recorder.handled == ["一", "二", "慢", "三"]


async def test_what_a_stopped_process_had_in_hand_goes_to_the_next_one(
    emulator: Emulator, bot: Bot
) -> None:
    first = Recorder()
    user = emulator.add_user(602, "王立新")
    for text in ("一", "慢", "二"):
        user.send(text)
    stop = asyncio.Event()
    poller = CommittedPolling(first.dispatcher, bot, timeout=1, idle_check=0.05, finish_within=0)
    polling = asyncio.create_task(poller.run(stop))
    await until(lambda: first.handled == ["一", "二"])
    stop.set()  # stops without waiting: "慢" is cut off
    await polling
    assert first.handled == ["一", "二"]
    assert pending(emulator) == [2, 3]  # only what was handled before the one cut off is gone

    second = Recorder()
    second.release.set()
    stop = asyncio.Event()
    polling = asyncio.create_task(
        CommittedPolling(second.dispatcher, bot, timeout=1, idle_check=0.05).run(stop)
    )
    try:
        await until(lambda: second.handled == ["慢", "二"])
    finally:
        stop.set()
        await polling
    assert pending(emulator) == []


@pytest.mark.slow
async def test_a_failed_getupdates_is_tried_again_and_loses_nothing(
    emulator: Emulator, bot: Bot
) -> None:
    recorder = Recorder()
    recorder.release.set()
    user = emulator.add_user(603, "王立新")
    user.send("一")
    real_request = bot.session.make_request
    failures = 2

    async def flaky(bot: Bot, method: Any, timeout: int | None = None) -> Any:
        nonlocal failures
        if failures:
            failures -= 1
            raise RuntimeError("502 Bad Gateway")
        return await real_request(bot, method, timeout)

    stop = asyncio.Event()
    poller = CommittedPolling(recorder.dispatcher, bot, timeout=1, idle_check=0.05)
    bot.session.make_request = flaky  # type: ignore[method-assign]
    polling = asyncio.create_task(poller.run(stop))
    try:
        await until(lambda: recorder.handled == ["一"], within=120)
    finally:
        stop.set()
        await polling
    assert failures == 0 and pending(emulator) == []
