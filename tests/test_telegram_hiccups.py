"""Telegram hiccups, against the emulator: a call answered with a proxy's 502 page (not Bot API
JSON) is tried again a few times like a 5xx, and the calls start-up makes (the command menu, the
webhook) keep being tried in the background until Telegram takes them."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import ClientDecodeError, TelegramBadRequest
from aiogram.types import BotCommand

from bot.retry import RetryTransient
from bot.startup import Backoff, StartupCalls
from sandbox import Emulator, FaultPlan, SandboxUser
from sandbox.world import commands_key
from tests.casework import until
from tests.live import BOT_TOKEN

MENU = [BotCommand(command="my", description="我的问题")]
FAST = Backoff(first=0.01, cap=0.05)
DEFAULT_SCOPE = {"type": "default"}


def plain_bot(emulator: Emulator) -> Bot:
    return Bot(
        BOT_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url))
    )


@pytest.fixture
async def bot(emulator: Emulator) -> AsyncIterator[Bot]:
    """A bot without retries of its own: each failure reaches the caller."""
    bot = plain_bot(emulator)
    yield bot
    await bot.session.close()


@pytest.fixture
async def retrying_bot(emulator: Emulator) -> AsyncIterator[Bot]:
    """A bot that tries a failed call again, as ``lianka run``'s does, only with short pauses."""
    bot = plain_bot(emulator)
    bot.session.middleware(RetryTransient(attempts=3, backoff=0.01))
    yield bot
    await bot.session.close()


def person(emulator: Emulator) -> SandboxUser:
    user = emulator.add_user(7_400_001, "监督员")
    user.chat.started = True
    return user


async def test_a_message_answered_with_a_proxy_page_is_sent_again_and_arrives_once(
    emulator: Emulator, retrying_bot: Bot
) -> None:
    user = person(emulator)
    emulator.faults = FaultPlan(error_html=0.5, seed=7)  # seed 7: the page twice, then Telegram

    await retrying_bot.send_message(user.id, "催办提醒")

    assert [m.text for m in user.replies] == ["催办提醒"]
    assert emulator.stats.injected["html"] == 2 and emulator.stats.calls["sendMessage"] == 3


async def test_a_proxy_page_that_stays_fails_the_call_after_a_few_tries(
    emulator: Emulator, retrying_bot: Bot
) -> None:
    user = person(emulator)
    emulator.faults = FaultPlan(error_html=1.0)

    with pytest.raises(ClientDecodeError):
        await retrying_bot.send_message(user.id, "催办提醒")

    assert user.replies == []
    assert emulator.stats.calls["sendMessage"] == 3


async def test_polling_is_left_to_its_own_backoff_after_a_proxy_page(
    emulator: Emulator, retrying_bot: Bot
) -> None:
    emulator.faults = FaultPlan(error_html=1.0, methods=frozenset({"getUpdates"}))

    with pytest.raises(ClientDecodeError):
        await retrying_bot.get_updates(timeout=0)

    assert emulator.stats.calls["getUpdates"] == 1


def menu(emulator: Emulator) -> list[str]:
    """The commands the bot set for everyone."""
    return [c["command"] for c in emulator.bot().commands.get(commands_key(DEFAULT_SCOPE, ""), [])]


async def test_a_start_up_call_answered_with_proxy_pages_is_tried_again_until_it_is_done(
    emulator: Emulator, bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.faults = FaultPlan(error_html=0.5, seed=9)  # seed 9: the page three times
    startup = StartupCalls(FAST)

    async def done() -> bool:
        return startup.pending == 0

    with caplog.at_level(logging.INFO, logger="bot.startup"):
        done_at_once = await startup.attempt("setting the menu", lambda: bot.set_my_commands(MENU))
        await until(done)

    assert not done_at_once
    assert menu(emulator) == ["my"]
    assert emulator.stats.calls["setMyCommands"] == 4
    logged = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert [level for level, _ in logged] == ["WARNING"] * 3 + ["INFO"]
    assert all("setting the menu failed (ClientDecodeError" in m for _, m in logged[:3])
    assert logged[3][1] == "setting the menu: done after 3 failed attempts"


async def test_stopping_ends_a_start_up_call_still_being_tried_without_a_trace(
    emulator: Emulator, bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.faults = FaultPlan(error_html=1.0)
    startup = StartupCalls(FAST)
    startup.in_background("setting the menu", lambda: bot.set_my_commands(MENU))

    async def failed_twice() -> bool:
        return emulator.stats.injected["html"] >= 2

    with caplog.at_level(logging.WARNING):
        await until(failed_twice)
        await startup.close()

    assert startup.pending == 0
    assert menu(emulator) == []
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_webhook_telegram_refuses_stops_start_up_at_once(
    emulator: Emulator, bot: Bot
) -> None:
    startup = StartupCalls(FAST)

    with pytest.raises(TelegramBadRequest, match="bad webhook"):
        await startup.attempt(
            "registering the webhook", lambda: bot.set_webhook("ftp://example.org/hook")
        )

    assert startup.pending == 0
