"""The sender at its default pace against the Bot API emulator enforcing Telegram's flood limits
(30 messages a second overall, 1 a second per chat): nothing is refused, everything arrives once,
also when one chat has several messages waiting."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.db import SessionFactory
from models.notification import Notice, NotificationStatus, Recipient, RecipientKind
from notifications.outbox import enqueue
from notifications.sender import Sender
from sandbox import Emulator, RateLimits
from tests.live import BOT_TOKEN
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
