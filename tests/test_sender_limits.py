"""The sender at its default pace against the Bot API emulator enforcing Telegram's flood limits
(30 messages a second overall, 1 a second per chat): nothing is refused, everything arrives once,
also when one chat has several messages waiting, and also when the emulator is held up now and
then (as a process waiting for the CPU on a busy machine) and takes the requests that waited
together."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.db import SessionFactory
from models.notification import Notice, NotificationStatus, Recipient, RecipientKind
from notifications.outbox import enqueue
from notifications.sender import Sender
from sandbox import BotSpec, Emulator, RateLimits
from tests.live import BOT_TOKEN, BOT_USERNAME
from tests.test_sender import rows

pytestmark = [pytest.mark.slow, pytest.mark.both_databases]

FIRST_CHAT = 6_200_000


async def test_at_the_default_pace_telegram_refuses_nothing_and_every_message_arrives_once(
    sessions: SessionFactory, emulator: Emulator
) -> None:
    emulator.limits = RateLimits(enabled=True)
    people = [emulator.add_user(FIRST_CHAT + n, f"联系人{n}") for n in range(60)]
    for person in people:
        person.start()
    # 60 chats with one message each, and three of them with four more waiting
    chats = [p.id for p in people] + [p.id for p in people[:3] for _ in range(4)]
    random.Random(4).shuffle(chats)
    now = datetime.now(UTC)
    async with sessions() as session:
        for n, chat_id in enumerate(chats):
            await enqueue(
                session,
                key=f"limits:{n}",
                kind="test",
                to=Recipient(RecipientKind.INSPECTOR, 0, chat_id),
                notice=Notice.of("_plain", text=f"提醒 {n:03d}"),
                now=now,
            )
        await session.commit()
    bot = Bot(BOT_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url)))
    sender = Sender(sessions, bot)
    try:
        while sender.stats.sent < len(chats):
            assert await sender.drain() > 0
    finally:
        await bot.session.close()

    assert emulator.stats.served_429 == 0
    assert {r.status for r in await rows(sessions)} == {NotificationStatus.SENT}
    received = Counter(m.text for p in people for m in p.replies)
    assert received == Counter(f"提醒 {n:03d}" for n in range(len(chats)))


@contextmanager
def emulator_of_its_own(emulator: Emulator) -> Iterator[Callable[[float], None]]:
    """The emulator on an event loop in a thread of its own, as Telegram is a process of its own;
    yields ``hold(seconds)``, which stops that loop for a while (the sender's goes on): requests
    sent meanwhile wait in the socket and are taken together, as when the emulator's process waits
    for the CPU."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(emulator.start(), loop).result(timeout=30)

        def hold(seconds: float) -> None:
            loop.call_soon_threadsafe(time.sleep, seconds)

        yield hold
    finally:
        asyncio.run_coroutine_threadsafe(emulator.stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()


async def test_requests_held_up_on_the_way_and_taken_together_are_not_refused(
    sessions: SessionFactory,
) -> None:
    # Sends spaced evenly here reach Telegram bunched when it (or the way there) is held up:
    # a quarter of a second's worth taken at once moves them forward in Telegram's one-second
    # window, which then holds more than 30. The sender must count them as Telegram may.
    emulator = Emulator(
        bots=[BotSpec(BOT_TOKEN, BOT_USERNAME, "廉卡")], limits=RateLimits(enabled=True)
    )
    people = [emulator.add_user(FIRST_CHAT + n, f"联系人{n}") for n in range(150)]
    for person in people:
        person.start()
    now = datetime.now(UTC)
    async with sessions() as session:
        for n, person in enumerate(people):
            await enqueue(
                session,
                key=f"held:{n}",
                kind="test",
                to=Recipient(RecipientKind.INSPECTOR, 0, person.id),
                notice=Notice.of("_plain", text=f"提醒 {n:03d}"),
                now=now,
            )
        await session.commit()
    with emulator_of_its_own(emulator) as hold:
        bot = Bot(
            BOT_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url))
        )
        sender = Sender(sessions, bot)
        draining = asyncio.create_task(sender.drain())
        try:
            while not draining.done():
                await asyncio.sleep(0.6)
                hold(0.6)
            await draining
        finally:
            await bot.session.close()

    assert emulator.stats.served_429 == 0
    assert sender.stats.sent == len(people)
    assert {r.status for r in await rows(sessions)} == {NotificationStatus.SENT}
    received = Counter(m.text for p in people for m in p.replies)
    assert received == Counter(f"提醒 {n:03d}" for n in range(len(people)))
