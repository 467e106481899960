"""The emulator misbehaves on purpose: injected 429/500/slow answers, a proxy's 502 page, and
Telegram's flood limits."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import ClientDecodeError, TelegramRetryAfter, TelegramServerError

from sandbox import BotSpec, Emulator, FaultPlan, RateLimits, SandboxUser
from sandbox.emulator import BAD_GATEWAY_PAGE
from sandbox.faults import FaultInjector

TOKEN = "4343:sandbox-fault-token"


class FakeMonotonic:
    """A clock the test moves by hand, so flood windows do not depend on how fast the machine is."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
async def emulator(clock) -> AsyncIterator[Emulator]:
    async with Emulator(bots=[BotSpec(TOKEN, "FaultyBot")], monotonic=clock) as running:
        yield running


@pytest.fixture
async def bot(emulator) -> AsyncIterator[Bot]:
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url)))
    yield bot
    await bot.session.close()


def users(emulator: Emulator, count: int) -> list[SandboxUser]:
    people = [emulator.add_user(800 + i, f"用户{i}") for i in range(count)]
    for person in people:
        person.start()
    return people


async def test_an_injected_429_carries_retry_after_changes_nothing_and_is_counted(emulator, bot):
    [user] = users(emulator, 1)
    emulator.faults = FaultPlan(error_429=1.0, retry_after=3)

    with pytest.raises(TelegramRetryAfter) as refused:
        await bot.send_message(user.id, "催办提醒")

    assert refused.value.retry_after == 3
    assert user.replies == []
    assert emulator.stats.served_429 == 1
    assert emulator.stats.injected["429"] == 1


async def test_an_injected_500_is_a_server_error(emulator, bot):
    [user] = users(emulator, 1)
    emulator.faults = FaultPlan(error_500=1.0)

    with pytest.raises(TelegramServerError):
        await bot.send_message(user.id, "催办提醒")

    assert user.replies == []


async def test_an_injected_proxy_page_is_a_502_in_html_that_aiogram_cannot_decode(emulator, bot):
    [user] = users(emulator, 1)
    emulator.faults = FaultPlan(error_html=1.0)

    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{emulator.base_url}/bot{TOKEN}/sendMessage", json={"chat_id": user.id, "text": "催办"}
        ) as response,
    ):
        status, content_type, body = response.status, response.content_type, await response.text()
    with pytest.raises(ClientDecodeError):
        await bot.send_message(user.id, "催办提醒")

    assert (status, content_type, body) == (502, "text/html", BAD_GATEWAY_PAGE)
    assert user.replies == []
    assert emulator.stats.injected["html"] == 2 and emulator.stats.errors[502] == 2


async def test_a_slow_reply_still_arrives(emulator, bot):
    [user] = users(emulator, 1)
    emulator.faults = FaultPlan(slow=1.0, slow_seconds=0.05)

    await bot.send_message(user.id, "稍后送达")

    assert [m.text for m in user.replies] == ["稍后送达"]
    assert emulator.stats.injected["slow"] == 1


async def test_polling_plumbing_is_left_alone_unless_named(emulator, bot):
    emulator.faults = FaultPlan(error_500=1.0)
    assert (await bot.get_me()).username == "FaultyBot"

    emulator.faults = FaultPlan(error_500=1.0, methods=frozenset({"getMe"}))
    with pytest.raises(TelegramServerError):
        await bot.get_me()


def test_the_same_seed_gives_the_same_faults_at_the_planned_rate():
    plan = FaultPlan(error_429=0.1, error_500=0.1, slow=0.05, seed=7)
    runs = []
    for _ in range(2):
        injector = FaultInjector(plan)
        runs.append([getattr(injector.draw("sendMessage"), "kind", None) for _ in range(2000)])

    assert runs[0] == runs[1]
    counts = Counter(runs[0])
    assert 300 <= counts["429"] + counts["500"] <= 500  # a fifth of 2000, give or take
    assert counts["slow"] > 0


def test_a_proxy_page_is_drawn_last_so_an_older_plan_faults_the_same_calls():
    older = FaultPlan(error_429=0.1, error_500=0.1, slow=0.05, seed=7)
    runs = []
    for plan in (older, replace(older, error_html=0.05)):
        injector = FaultInjector(plan)
        runs.append([getattr(injector.draw("sendMessage"), "kind", None) for _ in range(2000)])

    changed = [(before, after) for before, after in zip(*runs, strict=True) if before != after]
    assert changed and set(changed) == {(None, "html")}


def test_impossible_fault_rates_are_refused():
    with pytest.raises(ValueError, match="more than 1"):
        FaultPlan(error_429=0.6, error_500=0.6)
    with pytest.raises(ValueError, match="more than 1"):
        FaultPlan(error_500=0.5, slow=0.3, error_html=0.3)
    with pytest.raises(ValueError, match="error_html"):
        FaultPlan(error_html=-0.1)


async def test_more_than_one_message_a_second_to_a_chat_is_refused_with_retry_after(
    emulator, bot, clock
):
    [user] = users(emulator, 1)
    emulator.limits = RateLimits(enabled=True)

    await bot.send_message(user.id, "第一条")
    with pytest.raises(TelegramRetryAfter) as refused:
        await bot.send_message(user.id, "第二条")
    clock.now += 1.0
    await bot.send_message(user.id, "第三条")

    assert refused.value.retry_after == 1
    assert [m.text for m in user.replies] == ["第一条", "第三条"]
    assert emulator.stats.rate_limited == 1 and emulator.stats.served_429 == 1


async def test_more_than_thirty_messages_a_second_overall_are_refused(emulator, bot, clock):
    people = users(emulator, 31)
    emulator.limits = RateLimits(enabled=True)

    for person in people[:30]:
        await bot.send_message(person.id, "周报已发送")
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(people[30].id, "周报已发送")
    clock.now += 1.0
    await bot.send_message(people[30].id, "周报已发送")

    assert emulator.stats.rate_limited == 1


async def test_edits_and_answers_are_not_counted_as_sends(emulator, bot):
    [user] = users(emulator, 1)
    emulator.limits = RateLimits(enabled=True)

    sent = await bot.send_message(user.id, "待签收")
    await bot.edit_message_text("已签收", chat_id=user.id, message_id=sent.message_id)

    assert emulator.stats.rate_limited == 0


async def test_faults_and_limits_can_be_set_over_the_control_api(emulator):
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{emulator.base_url}/_sandbox/faults",
            json={"error_429": 0.2, "error_html": 0.1, "retry_after": 2, "seed": 5},
        ) as response:
            assert (await response.json())["faults"]["error_429"] == 0.2
        async with http.post(
            f"{emulator.base_url}/_sandbox/limits", json={"enabled": True}
        ) as response:
            assert (await response.json())["limits"]["enabled"] is True
        async with http.post(
            f"{emulator.base_url}/_sandbox/faults", json={"error_500": 2}
        ) as response:
            assert response.status == 400
        async with http.get(f"{emulator.base_url}/_sandbox/stats") as response:
            assert "served_429" in (await response.json())["stats"]

    assert emulator.faults == FaultPlan(error_429=0.2, error_html=0.1, retry_after=2, seed=5)
    assert emulator.bot().flood.limits.enabled
