"""What one step of a report costs the database and the process: the conversation and the
update's own record read in one statement, the step's draft and record written in one
transaction with no rollback before it, and no filter run in a worker thread. Each saving keeps
its guarantee: an update delivered again is still skipped, and anything a handler left
uncommitted is still dropped."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from typing import Any

import pytest
from aiogram import Dispatcher, Router
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.types import Chat, Message, Update, User
from sqlalchemy import event, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import SystemClock
from bot.db import SessionFactory
from bot.middlewares import DbSessionMiddleware, UpdateDeduplication
from bot.storage import SqlStorage
from models.case import Case
from models.processed_update import ProcessedUpdate
from models.reporter import Reporter
from tests.harness import BOT_ID, RecordingSession, Telegram
from tests.intake_helpers import REFUND, TOKEN, report

pytestmark = pytest.mark.both_databases


@contextmanager
def statements(sessions: SessionFactory) -> Iterator[list[str]]:
    """The statements run on the database while the block runs (transaction control aside)."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        seen.append(" ".join(sql.split()))

    def rollback(_conn: Any) -> None:
        seen.append("ROLLBACK")

    engine = sessions.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", note)
    event.listen(engine, "rollback", rollback)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)
        event.remove(engine, "rollback", rollback)


async def test_a_step_of_a_report_is_one_read_and_one_write_of_draft_and_record(
    telegram: Telegram, sessions: SessionFactory
) -> None:
    reporter = telegram.user()
    await reporter.start(TOKEN)
    await reporter.click("反映问题")
    await reporter.click("营商环境")
    await reporter.send("园区承诺的土地出让金返还至今未到位。")
    for button in ("完成", "跳过"):
        with statements(sessions) as seen:
            await reporter.click(button)
        reads = [s for s in seen if s.upper().startswith("SELECT")]
        assert len(reads) == 1 and "processed_updates" in reads[0] and "fsm_records" in reads[0]
        writes = [s.split()[2] for s in seen if s.upper().startswith("INSERT")]
        assert sorted(writes) == ["fsm_records", "processed_updates"]
        assert len(seen) <= 4  # the read, two writes and the pool's reset at most
    await reporter.click("匿名")
    await reporter.click("确认提交")
    assert "提交成功" in reporter.last


async def test_a_step_delivered_again_is_still_skipped(
    telegram: Telegram, sessions: SessionFactory
) -> None:
    reporter = telegram.user()
    await reporter.start(TOKEN)
    await reporter.click("反映问题")
    update = Update(
        update_id=next(telegram._update_ids),
        message=Message(
            message_id=900,
            date=datetime.now(UTC),
            chat=reporter.chat,
            from_user=reporter.tg_user,
            text="园区承诺的土地出让金返还至今未到位。",
        ),
    )
    await telegram.dispatcher.feed_update(telegram.bot, update)
    replies = len(reporter.messages)
    await telegram.dispatcher.feed_update(telegram.bot, update)  # delivered again
    assert len(reporter.messages) == replies
    async with sessions() as session:
        handled = await session.exec(
            select(func.count()).where(col(ProcessedUpdate.update_id) == update.update_id)
        )
        assert handled.one() == 1


async def test_no_filter_of_the_dispatcher_runs_in_a_worker_thread(
    telegram: Telegram, monkeypatch: pytest.MonkeyPatch
) -> None:
    threaded: list[Any] = []
    original = asyncio.to_thread

    async def to_thread(func: Any, /, *args: Any, **kwargs: Any) -> Any:
        threaded.append(func)
        return await original(func, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", to_thread)
    reporter = telegram.user()
    await reporter.start(TOKEN)
    await reporter.click("反映问题")
    await reporter.click("营商环境")
    await reporter.send("园区承诺的土地出让金返还至今未到位。")
    assert "完成" in reporter.messages[-1].button_texts
    assert threaded == []


def _dispatcher(sessions: SessionFactory, handler: Any) -> Dispatcher:
    """The update plumbing of ``create_dispatcher`` around one message handler."""
    storage = SqlStorage(sessions)
    dispatcher = Dispatcher(storage=storage, events_isolation=SimpleEventIsolation())
    dispatcher["clock"] = SystemClock()
    dispatcher.update.outer_middleware(DbSessionMiddleware(sessions))
    dispatcher.update.outer_middleware(UpdateDeduplication(defer_fsm=True))
    router = Router()
    router.message.register(handler)
    dispatcher.include_router(router)
    return dispatcher


def _message(update_id: int) -> Update:
    return Update(
        update_id=update_id,
        message=Message(
            message_id=update_id,
            date=datetime.now(UTC),
            chat=Chat(id=7_000_501, type="private"),
            from_user=User(id=7_000_501, is_bot=False, first_name="宋利剑"),
            text="你好",
        ),
    )


@pytest.mark.parametrize("how", ["added", "flushed", "executed"])
async def test_what_a_handler_left_uncommitted_is_dropped_when_it_returns(
    sessions: SessionFactory, how: str
) -> None:
    from aiogram import Bot

    async def leaves_a_reporter(message: Message, session: AsyncSession) -> None:
        assert message.from_user is not None
        reporter = Reporter(
            telegram_user_id=message.from_user.id,
            chat_id=message.chat.id,
            created_at=datetime.now(UTC),
        )
        if how == "executed":
            table = Reporter.__table__  # type: ignore[attr-defined]
            values = reporter.model_dump(exclude={"id"})
            await (await session.connection()).execute(table.insert().values(**values))
            return
        session.add(reporter)
        if how == "flushed":
            await session.flush()

    dispatcher = _dispatcher(sessions, leaves_a_reporter)
    bot = Bot(f"{BOT_ID}:TEST", session=RecordingSession())
    await dispatcher.feed_update(bot, _message(4_000_001))
    async with sessions() as session:
        assert (await session.exec(select(func.count()).select_from(Reporter))).one() == 0
        record = await session.get(ProcessedUpdate, (BOT_ID, 4_000_001))
        assert record is not None and record.finished


async def test_a_handler_that_caught_a_failed_statement_still_has_its_update_recorded(
    sessions: SessionFactory,
) -> None:
    """On PostgreSQL a failed statement aborts the transaction: the step's own record must then
    be written after a rollback, not refused with the transaction."""
    from aiogram import Bot
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    async def tries_and_gives_up(message: Message, session: AsyncSession) -> None:
        with suppress(DBAPIError):
            await (await session.connection()).execute(text("SELECT * FROM no_such_table"))

    dispatcher = _dispatcher(sessions, tries_and_gives_up)
    bot = Bot(f"{BOT_ID}:TEST", session=RecordingSession())
    await dispatcher.feed_update(bot, _message(4_000_002))
    async with sessions() as session:
        record = await session.get(ProcessedUpdate, (BOT_ID, 4_000_002))
        assert record is not None and record.finished


async def test_a_repeat_report_asks_for_its_teams_deciders_once_and_reads_and_writes_its_case_twice(
    telegram: Telegram, sessions: SessionFactory
) -> None:
    """Routing tells the team's leaders (or, for an appeal, the admins) that a case waits, and
    the repeat check tells the same people of the repeat: one look-up serves both. The case row,
    inserted for its number, is updated once when routed and once when flagged, not before every
    read in between; the earlier case is found in one read of the candidates, and the case's
    category, enterprise and zone in the read that looks for the case the draft became."""
    await report(telegram.user())
    second = telegram.user()
    await second.start(TOKEN)
    for button in ("反映问题", "营商环境"):
        await second.click(button)
    await second.send(REFUND)
    for button in ("完成", "跳过", "匿名"):
        await second.click(button)
    seen: list[tuple[str, str]] = []

    def note(_conn: Any, _cursor: Any, sql: str, parameters: Any, *_args: Any) -> None:
        seen.append((" ".join(sql.split()), str(parameters)))

    engine = sessions.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        await second.click("确认提交")
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert "提交成功" in second.last
    async with sessions() as session:
        repeat = (await session.exec(select(Case).order_by(col(Case.id).desc()))).first()
        assert repeat is not None and repeat.repeat_of_id is not None
    asked = [each for each in seen if " FROM inspectors " in each[0]]
    assert asked and len(asked) == len(set(asked))
    # the team's members and its leaders in one read (and, with no leader, the admins)
    assert (
        len([sql for sql, _ in asked if "inspectors.team_id" in sql.partition(" WHERE ")[2]]) == 1
    )
    assert len([sql for sql, _ in seen if sql.startswith("UPDATE cases ")]) == 2
    # the case a draft already became (with the category), then the repeat check's one read:
    # the earlier case comes with its candidates' descriptions, not read again on its own
    read_cases = [sql for sql, _ in seen if sql.startswith("SELECT cases.")]
    assert len(read_cases) == 1
    _assert_one_repeat_check(seen)
    # the enterprise and zone the case gets are read with the category, not on their own
    assert " enterprises " in read_cases[0] and " zones " in read_cases[0]
    assert not [sql for sql, _ in seen if " FROM enterprises " in sql or " FROM zones " in sql]


def _assert_one_repeat_check(seen: list[tuple[str, str]]) -> None:
    """The repeat check is one read of cases with their descriptions, in two parts each
    ordered and limited on its own (the same enterprise's newest, the zone's newest
    candidates): each part reads its index newest first and stops, however many cases the
    zone has, rather than the whole zone read and sorted for every submission."""
    checks = [sql for sql, _ in seen if " AS same" in sql]
    assert len(checks) == 1 and "cases.description" in checks[0]
    assert " UNION ALL " in checks[0] and checks[0].count(" LIMIT ") == 2
    # the match is not read again: the one whole case read is the one the draft became
    assert len([sql for sql, _ in seen if sql.startswith("SELECT cases.")]) == 1


async def test_a_report_like_an_earlier_one_by_its_text_is_flagged_in_one_read_of_the_cases(
    telegram: Telegram, sessions: SessionFactory
) -> None:
    """A report in another category that says what an earlier one of the zone said is a
    repeat by its text: the candidates come with their descriptions and the earlier case's
    number, status and team, so the match is not read again on its own."""
    await report(telegram.user())
    second = telegram.user()
    with statements(sessions) as seen:
        answer = await report(second, category="重点项目建设")
    assert "提交成功" in answer
    async with sessions() as session:
        cases = (await session.exec(select(Case).order_by(col(Case.id)))).all()
    assert len(cases) == 2 and cases[1].repeat_of_id == cases[0].id
    _assert_one_repeat_check([(sql, "") for sql in seen])


async def test_a_card_scan_finds_or_makes_its_reporter_in_one_statement(
    telegram: Telegram, sessions: SessionFactory
) -> None:
    """The account's reporter is made at its first scan and found again at the next, each time
    bound to the card, in one upsert; who it was made for and when stay as they were."""
    user = telegram.user()
    await user.start(TOKEN)
    async with sessions() as session:
        made = (await session.exec(select(Reporter))).one()
    for _ in range(2):
        with statements(sessions) as seen:
            await user.start(TOKEN)
        touching = [s for s in seen if " reporters " in f"{s} "]
        assert len(touching) == 1 and touching[0].startswith("INSERT INTO reporters")
    async with sessions() as session:
        found = (await session.exec(select(Reporter))).one()
    assert (found.id, found.created_at, found.telegram_user_id) == (
        made.id,
        made.created_at,
        made.telegram_user_id,
    )
    assert found.card_id == made.card_id and found.last_seen_at is not None
