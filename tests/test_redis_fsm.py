"""With Redis for the conversation state (several instances): the draft survives a restart, and a
crash between an update's record and Redis loses no step and takes none twice: the state the
update leaves is kept in its record and written to Redis when the update is delivered again."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from aiogram.fsm.storage.base import DefaultKeyBuilder
from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.dispatcher import create_dispatcher
from bot.middlewares import UpdateNotFinished
from bot.settings import Settings
from bot.storage import DeferredStorage
from models.attachment import Attachment
from models.calendar import WorkCalendar
from models.case import Case
from models.processed_update import ProcessedUpdate
from tests.harness import Telegram, TgUser
from tests.intake_helpers import REFUND, TOKEN, make_card, state_of
from tests.test_intake_flow import reach
from tests.test_redelivery import Crash, remembered

pytestmark = [pytest.mark.both_databases, pytest.mark.redis]

REDIS_URL = os.environ.get("LIANKA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def redis() -> AsyncIterator[tuple[Redis, DefaultKeyBuilder]]:
    prefix = f"lianka-test-{secrets.token_hex(4)}"
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (RedisConnectionError, OSError) as error:
        await client.aclose()
        if os.environ.get("LIANKA_REQUIRE_SERVICES") == "1":
            pytest.fail(f"Redis is not reachable: {error}")
        pytest.skip(f"Redis is not reachable: {error}")
    try:
        yield client, DefaultKeyBuilder(prefix=prefix, with_bot_id=True, with_destiny=True)
    finally:
        stored = [key async for key in client.scan_iter(f"{prefix}:*")]
        if stored:
            await client.delete(*stored)
        await client.aclose()


@pytest.fixture
async def on_redis(
    redis: tuple[Redis, DefaultKeyBuilder],
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> Callable[[], Telegram]:
    """A new process each call, on the same Redis and database, as ``lianka run`` builds it."""
    client, keys = redis
    async with sessions() as session:
        await make_card(session, clock.now())

    def build() -> Telegram:
        return Telegram.create(
            create_dispatcher(
                settings=Settings(),
                config=catalog,
                sessions=sessions,
                calendar=calendar,
                storage=DeferredStorage(RedisStorage(client, key_builder=keys)),
                events_isolation=RedisEventIsolation(client, key_builder=keys),
                clock=clock,
            )
        )

    return build


async def at_the_description(telegram: Telegram) -> TgUser:
    """A reporter who scanned the card and chose 营商环境: the next message is the description."""
    reporter = telegram.user()
    await reporter.start(TOKEN)
    await reporter.click("反映问题")
    await reporter.click("营商环境")
    return reporter


@contextmanager
def redis_writes_failing(telegram: Telegram, error: BaseException) -> Iterator[None]:
    """Writing a draft to Redis raises ``error`` while the block runs."""
    storage = telegram.dispatcher.storage
    assert isinstance(storage, DeferredStorage)
    written = storage.inner.set_data

    async def failing(*args: Any, **kwargs: Any) -> None:
        raise error

    storage.inner.set_data = failing  # type: ignore[method-assign]
    try:
        yield
    finally:
        storage.inner.set_data = written  # type: ignore[method-assign]


async def last_record(sessions: SessionFactory) -> ProcessedUpdate:
    async with sessions() as session:
        query = select(ProcessedUpdate).order_by(col(ProcessedUpdate.update_id).desc())
        return (await session.exec(query)).first() or pytest.fail("no update recorded")


async def test_the_draft_is_json_and_survives_a_restart(
    on_redis: Callable[[], Telegram], sessions: SessionFactory
) -> None:
    first = on_redis()
    user = first.user()
    await reach(user, "evidence")
    await user.send_photo()
    again = on_redis().user(first_name=user.first_name, user_id=user.id)
    await again.send_document()
    assert again.last.startswith("已收到2个附件")
    await again.click("完成")
    await again.send("12.5万")
    await again.click("匿名")
    await again.click("确认提交")
    assert "AJ-2026-00001" in again.last
    async with sessions() as session:
        case = (await session.exec(select(Case))).one()
        files = (await session.exec(select(Attachment))).all()
    assert case.amount_involved_yuan == 125_000 and len(files) == 2


async def test_killed_after_the_record_before_redis_the_description_is_taken_once(
    on_redis: Callable[[], Telegram], sessions: SessionFactory
) -> None:
    first = on_redis()
    reporter = await at_the_description(first)
    updates = remembered(first)
    with redis_writes_failing(first, Crash()), pytest.raises(Crash):
        await reporter.send(REFUND)
    assert "请上传相关材料" in reporter.last  # the answer went out; Redis has the old step
    state, draft = await state_of(first, reporter)
    assert state == "Intake:description" and not draft["description"]
    record = await last_record(sessions)
    assert not record.finished and record.fsm_writes

    restarted = on_redis()
    await restarted.dispatcher.feed_update(restarted.bot, updates[-1])  # delivered again
    state, draft = await state_of(restarted, reporter)
    assert state == "Intake:evidence" and draft["description"] == REFUND
    record = await last_record(sessions)
    assert record.finished and record.fsm_writes is None

    again = restarted.user(first_name=reporter.first_name, user_id=reporter.id)
    await again.send("/report")  # shows the step the draft is at
    assert "请继续填写" in again.last
    await again.click("完成")
    await again.click("跳过")
    await again.click("匿名")
    await again.click("确认提交")
    async with sessions() as session:
        case = (await session.exec(select(Case))).one()
    assert case.description == REFUND  # not twice: the step was taken once


async def test_killed_before_the_record_the_step_is_taken_again_from_the_same_place(
    on_redis: Callable[[], Telegram],
) -> None:
    first = on_redis()
    reporter = await at_the_description(first)
    sent = first.session.make_request

    async def die_on_the_next_prompt(bot: Any, method: Any, timeout: Any = None) -> Any:
        if "请上传相关材料" in str(getattr(method, "text", "")):
            raise Crash
        return await sent(bot, method, timeout)

    updates = remembered(first)
    first.session.make_request = die_on_the_next_prompt  # type: ignore[method-assign]
    with pytest.raises(Crash):
        await reporter.send(REFUND)
    state, draft = await state_of(first, reporter)
    assert state == "Intake:description" and not draft["description"]

    restarted = on_redis()
    again = restarted.user(first_name=reporter.first_name, user_id=reporter.id)
    await restarted.dispatcher.feed_update(restarted.bot, updates[-1])
    await restarted.dispatcher.feed_update(restarted.bot, updates[-1])
    assert "请上传相关材料" in again.last
    state, draft = await state_of(restarted, reporter)
    assert state == "Intake:evidence" and draft["description"] == REFUND
    assert len([m for m in again.messages if "请上传相关材料" in m.text]) == 1


async def test_a_redis_blip_after_the_commit_sends_the_update_back_and_its_step_is_kept(
    on_redis: Callable[[], Telegram], sessions: SessionFactory
) -> None:
    telegram = on_redis()
    reporter = await at_the_description(telegram)
    updates = remembered(telegram)
    blip = RedisConnectionError("Connection reset by peer")
    # not swallowed by the error handlers: Telegram must deliver it again
    with redis_writes_failing(telegram, blip), pytest.raises(UpdateNotFinished):
        await reporter.send(REFUND)
    assert not any("系统暂时无法处理" in m.text for m in reporter.messages)

    await telegram.dispatcher.feed_update(telegram.bot, updates[-1])  # delivered again
    state, draft = await state_of(telegram, reporter)
    assert state == "Intake:evidence" and draft["description"] == REFUND
    record = await last_record(sessions)
    assert record.finished and record.fsm_writes is None
