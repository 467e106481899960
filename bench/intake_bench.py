"""Benchmark: reporters' complete conversations through the production dispatcher, next to
aiogram's own dispatch of the same updates, bare and with the one durable write per update.

    .venv/bin/python bench/intake_bench.py                       # 200 conversations, SQLite
    .venv/bin/python bench/intake_bench.py --backend both        # and on PostgreSQL
    .venv/bin/python bench/intake_bench.py --count-sql           # statements, commits per update
    .venv/bin/python bench/intake_bench.py --profile             # where Lianka's time goes
    .venv/bin/python bench/intake_bench.py --beside outbox       # as make bench's busy neighbour

Each conversation is the quickest report: the card scanned (``/start <token>``) → 反映问题 →
a category → the description → 完成 (no evidence) → 跳过 (no amount) → 匿名 → 确认提交, eight
updates. They go through ``create_dispatcher`` built as ``lianka run`` builds it (the database's
FSM storage, the in-process event isolation, the flood limit, the system clock) over a database
migrated like ``lianka init`` (a SQLite file; ``--backend postgresql``: a PostgreSQL database of
its own, dropped afterwards), with a Bot whose session records every call and talks to nobody.
The conversations are interleaved, ``--interleave`` at a time: every one takes its first step,
then every one its second, and so on.

Two floors are fed the very same updates, with the same kind of session, best of three each:
the bare floor, an aiogram ``Dispatcher`` with no-op message and callback handlers; and the
durable floor, the same dispatcher whose handlers each write and commit one row (a session of
their own from an engine built as Lianka's, ``bot.db.create_engine``, on the same database).
Only ``feed_update`` is timed, on all sides; building the next update from the bot's last reply
is the driver's work and is not.

``intake_durable_ratio`` = Lianka's updates per second / the durable floor's (goal >= 0.5:
everything Lianka does per update costs at most twice the one commit it cannot avoid);
``intake_ratio`` = the same against the bare floor (reported). ``intake_p99_ms`` goal <= 50.

A third figure says how near 0.5 can come at all: the statement floor replays Lianka's own
statements, commits and rollbacks, as its driver received them, update by update in a session
each, on a fresh database prepared alike (best of three, by wall time), with none of Lianka's
Python around them. ``intake_statement_ratio`` = the durable floor's seconds / (the statement
floor's + the bare floor's) (reported): the ratio Lianka would reach if nothing but aiogram's
dispatch and its own database work cost anything. The replies floor is the bare floor whose
handler makes, for each update, the very Bot calls Lianka made for it (the same methods through
the same kind of session), best of three; ``intake_inherent_ratio`` = the durable floor's
seconds / (the statement floor's + the replies floor's) (reported): the ratio Lianka would reach
if its own Python — middlewares, handlers, use cases, the ORM around its statements — cost
nothing, and all that were left were aiogram, its replies and its database work.
The mean per step and the CPU seconds of each side (this process's, the database thread's
included: steadier than the wall clock on a shared machine) are printed too.

Writes intake_updates_per_s, floor_updates_per_s, intake_durable_floor_per_s, intake_ratio,
intake_durable_ratio, intake_statement_floor_per_s, intake_statement_ratio,
intake_replies_floor_per_s, intake_inherent_ratio, intake_p50_ms,
intake_p99_ms and peak_rss_mb (this process) into
bench/results.json, from the first backend measured; and each backend's updates per second,
durable floor, durable ratio, statement ratio, inherent ratio, p50 and p99 as ``<key>_sqlite`` /
``<key>_postgresql``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aiogram import Bot, Dispatcher, Router  # noqa: E402
from aiogram.fsm.storage.memory import SimpleEventIsolation  # noqa: E402
from aiogram.methods import TelegramMethod  # noqa: E402
from aiogram.types import (  # noqa: E402
    CallbackQuery,
    Chat,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
    User,
)
from sqlalchemy import (  # noqa: E402
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    Table,
    event,
    func,
)
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402
from sqlmodel import select  # noqa: E402

from bench.common import (  # noqa: E402
    merge_results,
    peak_rss_mb,
    percentile,
    postgres_database,
)
from bot.clock import SystemClock  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.db import (  # noqa: E402
    SessionFactory,
    create_engine,
    create_session_factory,
    upgrade_database,
)
from bot.dispatcher import create_dispatcher  # noqa: E402
from bot.middlewares import ThrottlingMiddleware  # noqa: E402
from bot.services.calendar import load_calendar  # noqa: E402
from bot.services.catalog import sync_catalog  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.storage import SqlStorage  # noqa: E402
from models.card import Card  # noqa: E402
from models.case import Case  # noqa: E402
from models.enterprise import Enterprise  # noqa: E402
from models.org import Zone  # noqa: E402
from tests.harness import BOT_ID, RecordingSession, Sent  # noqa: E402

GOAL = 0.5
P99_GOAL_MS = 50
DESCRIPTION = "园区管委会承诺的土地出让金返还至今未到位，企业资金周转困难，请帮助协调。"
STEPS: tuple[tuple[str, str], ...] = (
    ("start", ""),
    ("click", "反映问题"),
    ("click", "营商环境"),
    ("text", DESCRIPTION),
    ("click", "完成"),
    ("click", "跳过"),
    ("click", "匿名"),
    ("click", "确认提交"),
)
BOT_USER = User(id=BOT_ID, is_bot=True, first_name="廉卡")


class _IndexedSent(list[Sent]):
    """The recording session's list of sent messages, indexed by chat as it grows."""

    def __init__(self) -> None:
        super().__init__()
        self.by_chat: dict[int, list[Sent]] = defaultdict(list)
        self.by_id: dict[tuple[int, int], Sent] = {}

    def append(self, sent: Sent) -> None:
        super().append(sent)
        self.by_chat[sent.chat_id].append(sent)
        self.by_id[(sent.chat_id, sent.message_id)] = sent


class BenchSession(RecordingSession):
    """The tests' recording session, with its look-ups indexed so that its own cost stays flat
    however many chats there are."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: _IndexedSent = _IndexedSent()

    def _find(self, chat_id: Any, message_id: Any) -> Sent | None:
        return self.sent.by_id.get((int(chat_id), message_id))

    def latest_button(self, chat_id: int, text: str) -> tuple[Sent, Any]:
        for sent in reversed(self.sent.by_chat[chat_id]):
            for button in sent.inline_buttons:
                if button.text == text:
                    return sent, button
        shown = [s.button_texts for s in self.sent.by_chat[chat_id][-3:]]
        raise AssertionError(f"chat {chat_id}: no button {text!r}; last buttons {shown}")


@dataclass
class Updates:
    """Telegram's side: numbered updates from reporters, built from what the bot showed them."""

    session: BenchSession
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def _message(self, user_id: int, text: str, entities: list[MessageEntity] | None) -> Message:
        return Message(
            message_id=next(self._message_ids),
            date=datetime.now(UTC),
            chat=Chat(id=user_id, type="private", first_name="宋利剑"),
            from_user=User(id=user_id, is_bot=False, first_name="宋利剑", language_code="zh-hans"),
            text=text,
            entities=entities,
        )

    def step(self, user_id: int, token: str, kind: str, value: str) -> Update:
        update_id = next(self._update_ids)
        if kind == "start":
            text = f"/start {token}"
            entity = MessageEntity(type="bot_command", offset=0, length=len("/start"))
            return Update(update_id=update_id, message=self._message(user_id, text, [entity]))
        if kind == "text":
            return Update(update_id=update_id, message=self._message(user_id, value, None))
        sent, button = self.session.latest_button(user_id, value)
        query = CallbackQuery(
            id=str(update_id + 10_000_000),
            from_user=User(id=user_id, is_bot=False, first_name="宋利剑", language_code="zh-hans"),
            chat_instance=f"ci-{user_id}",
            data=button.callback_data,
            message=Message(
                message_id=sent.message_id,
                date=datetime.now(UTC),
                chat=Chat(id=user_id, type="private", first_name="宋利剑"),
                from_user=BOT_USER,
                text=sent.text,
                reply_markup=sent.reply_markup
                if isinstance(sent.reply_markup, InlineKeyboardMarkup)
                else None,
            ),
        )
        return Update(update_id=update_id, callback_query=query)


async def prepare(url: str, count: int) -> tuple[SessionFactory, list[str]]:
    """The example organisation and ``count`` printed cards, one per enterprise."""
    config = load_config(ROOT / "lianka.example.toml")
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    now = datetime.now(UTC)
    tokens = [f"c_bench{n:07d}xxxxxxxxxxx"[:22] for n in range(count)]
    async with sessions() as session:
        await sync_catalog(session, config)
        zone = (await session.exec(select(Zone).where(Zone.code == "jkq"))).one()
        assert zone.id is not None
        enterprises = [
            Enterprise(
                name=f"遂宁市安居区第{n + 1}号建筑工程有限公司", zone_id=zone.id, created_at=now
            )
            for n in range(count)
        ]
        session.add_all(enterprises)
        await session.flush()
        session.add_all(
            Card.issue(enterprise.id or 0, zone, token=token, unit_without_zone="", at=now)
            for token, enterprise in zip(tokens, enterprises, strict=True)
        )
        await session.commit()
    return sessions, tokens


@dataclass
class Run:
    """Per-update seconds, the updates (for the floors), the step each one was, the Bot calls
    each made (by update id, for the replies floor), the process's CPU seconds over them (its own
    and the database thread's: a figure the other processes on a shared machine disturb less),
    and how many cases were submitted."""

    seconds: list[float] = field(default_factory=list)
    cpu_each: list[float] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    replies: dict[int, list[TelegramMethod[Any]]] = field(default_factory=dict)
    submitted: int = 0

    @property
    def cpu(self) -> float:
        return sum(self.cpu_each)


async def feed_all(dispatcher: Dispatcher, bot: Bot, updates: list[Update]) -> tuple[float, float]:
    """Feed ``updates`` one after the other; the seconds and CPU seconds ``feed_update`` took."""
    total = cpu = 0.0
    for update in updates:
        started, used = time.perf_counter(), time.process_time()
        await dispatcher.feed_update(bot, update)
        total += time.perf_counter() - started
        cpu += time.process_time() - used
    return total, cpu


async def run_lianka(
    sessions: SessionFactory, tokens: list[str], interleave: int, recorded: Recorded | None = None
) -> Run:
    """Every conversation through the production dispatcher (its statements kept in
    ``recorded``, if given)."""
    config = load_config(ROOT / "lianka.example.toml")
    async with sessions() as db:
        calendar = await load_calendar(db, config)
    dispatcher = create_dispatcher(
        settings=Settings(_env_file=None),
        config=config,
        sessions=sessions,
        calendar=calendar,
        storage=SqlStorage(sessions),
        events_isolation=SimpleEventIsolation(),
        clock=SystemClock(),
        throttling=ThrottlingMiddleware(),
    )
    recording = BenchSession()
    bot = Bot(f"{BOT_ID}:TEST", session=recording)
    updates = Updates(recording)
    run = Run()
    users = [(7_000_001 + n, token) for n, token in enumerate(tokens)]
    for wave in range(0, len(users), interleave):
        group = users[wave : wave + interleave]
        for kind, value in STEPS:
            for user_id, token in group:
                update = updates.step(user_id, token, kind, value)
                if recorded is not None:
                    recorded.start()
                called = len(recording.calls)
                started, cpu = time.perf_counter(), time.process_time()
                await dispatcher.feed_update(bot, update)
                run.seconds.append(time.perf_counter() - started)
                run.cpu_each.append(time.process_time() - cpu)
                if recorded is not None:
                    recorded.stop()
                run.replies[update.update_id] = recording.calls[called:]
                run.updates.append(update)
                run.steps.append(value or kind)
    async with sessions() as db:
        run.submitted = int((await db.exec(select(func.count()).select_from(Case))).one())
    await dispatcher.storage.close()
    return run


async def feed_to(
    handler: Callable[..., Awaitable[None]],
    updates: list[Update],
    session: BenchSession | None = None,
) -> tuple[float, float]:
    """A floor: an aiogram ``Dispatcher`` whose one ``handler`` takes every message and button
    press, fed ``updates`` through a Bot on ``session`` (a fresh one of the same kind as
    Lianka's, if not given); the seconds and CPU seconds (``feed_all``)."""
    router = Router()
    router.message.register(handler)
    router.callback_query.register(handler)
    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    bot = Bot(f"{BOT_ID}:TEST", session=session or BenchSession())
    return await feed_all(dispatcher, bot, updates)


async def run_floor(updates: list[Update]) -> tuple[float, float]:
    """aiogram alone: the same updates, a no-op handler, the same kind of session."""

    async def nothing(_event: Any) -> None:
        return None

    return await feed_to(nothing, updates)


async def run_replies_floor(
    updates: list[Update], replies: dict[int, list[TelegramMethod[Any]]]
) -> tuple[float, float]:
    """aiogram with Lianka's replies: the same updates, a handler that makes the very Bot calls
    Lianka made for each (the same methods, in the same order, through the same kind of
    session), and nothing else."""

    async def reply(_event: Any, bot: Bot, event_update: Update) -> None:
        for method in replies[event_update.update_id]:
            await bot(method)

    session = BenchSession()
    timed = await feed_to(reply, updates, session)
    if len(session.calls) != sum(map(len, replies.values())):
        raise SystemExit(f"the replies floor made {len(session.calls)} Bot calls, not Lianka's")
    return timed


FLOOR_ROWS = Table(
    "bench_durable_floor",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("update_id", BigInteger, nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("handled_at", DateTime(timezone=True), nullable=False),
)


async def run_durable_floor(url: str, updates: list[Update]) -> tuple[float, float]:
    """aiogram with the one write Lianka cannot avoid: the same updates, handlers that each write
    and commit one row, in a session of their own from an engine built as Lianka's (the same
    ``create_engine``, the same session factory)."""
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(FLOOR_ROWS.create, checkfirst=True)

        async def write_one(event: Message | CallbackQuery) -> None:
            user = event.from_user
            assert user is not None
            async with sessions() as session:
                await session.exec(
                    FLOOR_ROWS.insert().values(
                        update_id=0, user_id=user.id, handled_at=datetime.now(UTC)
                    )
                )
                await session.commit()

        timed = await feed_to(write_one, updates)
        async with engine.begin() as connection:
            written = (await connection.execute(select(func.count()).select_from(FLOOR_ROWS))).one()
            await connection.execute(FLOOR_ROWS.delete())
    finally:
        await engine.dispose()
    if written[0] != len(updates):
        raise SystemExit(f"the durable floor wrote {written[0]} rows for {len(updates)} updates")
    return timed


@dataclass
class Recorded:
    """Lianka's statements update by update, as its driver received them (SQLAlchemy's
    ``before_cursor_execute``: the SQL and the parameters after every conversion; a list of
    parameter sets is an executemany), and the ends of its transactions (``"commit"``,
    ``"rollback"``): what the statement floor replays."""

    updates: list[list[tuple[str, Any] | str]] = field(default_factory=list)
    on: bool = False

    def watch(self, engine: AsyncEngine) -> None:
        def statement(_conn: Any, _cursor: Any, sql: str, parameters: Any, *_rest: Any) -> None:
            if self.on:
                self.updates[-1].append((sql, parameters))

        def ended(how: str) -> Any:
            def listener(_conn: Any) -> None:
                if self.on:
                    self.updates[-1].append(how)

            return listener

        event.listen(engine.sync_engine, "before_cursor_execute", statement)
        for how in ("commit", "rollback"):
            event.listen(engine.sync_engine, how, ended(how))

    def start(self) -> None:
        self.updates.append([])
        self.on = True

    def stop(self) -> None:
        self.on = False


async def run_statement_floor(
    url: str, conversations: int, recorded: Recorded
) -> tuple[float, float, list[float]]:
    """Lianka's own statements, commits and rollbacks alone, update by update, each update in a
    session of its own, on a database prepared (and an engine made) as Lianka's were: what the
    database work of an update costs with none of Lianka's Python around it. The seconds, the
    CPU seconds and each update's seconds."""
    sessions, _tokens = await prepare(url, conversations)  # as Lianka's run is given
    engine = sessions.kw["bind"]
    total = cpu = 0.0
    each: list[float] = []
    try:
        for statements in recorded.updates:
            started, used = time.perf_counter(), time.process_time()
            async with sessions() as session:
                connection = await session.connection()
                for entry in statements:
                    if isinstance(entry, str):
                        await (session.commit() if entry == "commit" else session.rollback())
                        connection = await session.connection()
                        continue
                    sql, parameters = entry
                    result = await connection.exec_driver_sql(sql, parameters)
                    if result.returns_rows:
                        result.all()
            each.append(time.perf_counter() - started)
            total += each[-1]
            cpu += time.process_time() - used
        async with engine.connect() as connection:
            cases = (await connection.execute(select(func.count()).select_from(Case))).one()[0]
    finally:
        await engine.dispose()
    if cases != conversations:
        raise SystemExit(
            f"the replay of Lianka's statements made {cases} cases, not {conversations}"
        )
    return total, cpu, each


async def measure(
    url: str,
    conversations: int,
    interleave: int,
    *,
    replays: list[str],
    count_sql: bool = False,
) -> dict[str, float | int]:
    """Lianka's run, then the floors; the statement floor replays Lianka's statements on each of
    ``replays`` (fresh databases migrated as ``url`` was), best of them."""
    sessions, tokens = await prepare(url, conversations)
    recorded = Recorded()
    if replays or count_sql:
        recorded.watch(sessions.kw["bind"])
    try:
        run = await run_lianka(sessions, tokens, interleave, recorded)
    finally:
        await sessions.kw["bind"].dispose()
    if run.submitted != conversations:
        raise SystemExit(f"only {run.submitted} of {conversations} conversations ended in a case")
    updates, seconds = run.updates, run.seconds
    floor, floor_cpu = map(min, zip(*[await run_floor(updates) for _ in range(3)], strict=True))
    replying, replying_cpu = map(
        min, zip(*[await run_replies_floor(updates, run.replies) for _ in range(3)], strict=True)
    )
    durable, durable_cpu = map(
        min, zip(*[await run_durable_floor(url, updates) for _ in range(3)], strict=True)
    )
    replayed = [await run_statement_floor(url, conversations, recorded) for url in replays]
    statements, statements_cpu, alone = min(replayed) if replayed else (0.0, 0.0, [])
    lianka = sum(seconds)
    figures: dict[str, float | int] = {
        "intake_updates_per_s": round(len(seconds) / lianka, 1),
        "floor_updates_per_s": round(len(updates) / floor, 1),
        "intake_durable_floor_per_s": round(len(updates) / durable, 1),
        "intake_replies_floor_per_s": round(len(updates) / replying, 1),
        "intake_ratio": round(floor / lianka, 4),
        "intake_durable_ratio": round(durable / lianka, 4),
        "intake_p50_ms": round(percentile(seconds, 0.5) * 1000, 2),
        "intake_p99_ms": round(percentile(seconds, 0.99) * 1000, 2),
        "intake_updates": len(seconds),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    if replayed:
        figures["intake_statement_floor_per_s"] = round(len(updates) / statements, 1)
        figures["intake_statement_ratio"] = round(durable / (statements + floor), 4)
        figures["intake_inherent_ratio"] = round(durable / (statements + replying), 4)
    by_step: dict[str, list[tuple[float, ...]]] = defaultdict(list)
    columns = 3 if alone else 2  # the statements alone, where they were replayed
    for step, *row in itertools.zip_longest(run.steps, seconds, run.cpu_each, alone):
        by_step[step].append(tuple(row[:columns]))
    print(
        "mean ms per step (wall / CPU"
        + (" / its statements alone): " if alone else "): ")
        + ", ".join(
            f"{step[:8]} "
            + " / ".join(f"{sum(row[n] for row in v) / len(v) * 1000:.1f}" for n in range(columns))
            for step, v in by_step.items()
        )
    )
    print(
        f"CPU seconds: Lianka {run.cpu:.2f}, "
        + (f"its statements alone {statements_cpu:.2f}, " if alone else "")
        + f"durable floor {durable_cpu:.2f} (ratio "
        f"{durable_cpu / run.cpu:.3f}), bare floor {floor_cpu:.2f} (ratio {floor_cpu / run.cpu:.3f})"
        f", replies floor {replying_cpu:.2f}"
    )
    if count_sql:
        sent = [entry for update in recorded.updates for entry in update]
        kinds = Counter(" ".join(e[0].split()[:3])[:60] for e in sent if not isinstance(e, str))
        print(
            f"SQL per update: {kinds.total() / len(seconds):.2f} statements, "
            f"{sent.count('commit') / len(seconds):.2f} commits (the durable floor: 1 INSERT, "
            "1 commit)"
        )
        for kind, number in kinds.most_common():
            print(f"  {number / len(seconds):6.2f}  {kind}")
    return figures


def profile(url: str, conversations: int, interleave: int) -> None:
    import cProfile
    import pstats

    async def run() -> None:
        sessions, tokens = await prepare(url, conversations)
        profiler = cProfile.Profile()
        profiler.enable()
        await run_lianka(sessions, tokens, interleave)
        profiler.disable()
        await sessions.kw["bind"].dispose()
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(25)

    asyncio.run(run())


BESIDE = ("intake_durable_ratio", "intake_p50_ms", "intake_p99_ms")
"""What a run as a neighbour (``--beside``) records."""
PER_BACKEND = (
    "intake_updates_per_s",
    "intake_durable_floor_per_s",
    "intake_durable_ratio",
    "intake_statement_ratio",
    "intake_inherent_ratio",
    "intake_p50_ms",
    "intake_p99_ms",
)


REPLAYS = 3
"""Fresh databases the statement floor replays Lianka's statements on (best of them)."""


def run_backend(backend: str, args: argparse.Namespace) -> dict[str, float | int] | None:
    """Migrate fresh databases of ``backend`` as ``lianka init`` does (Lianka's, and one for
    each replay of its statements), then measure (or profile) on them."""

    def on(urls: list[str]) -> dict[str, float | int] | None:
        for url in urls:
            upgrade_database(url)  # what ``lianka init`` does
        if args.profile:
            profile(urls[0], args.conversations, args.interleave)
            return None
        return asyncio.run(
            measure(
                urls[0],
                args.conversations,
                args.interleave,
                replays=urls[1:],
                count_sql=args.count_sql,
            )
        )

    databases = 1 if args.profile or args.beside else 1 + REPLAYS
    with contextlib.ExitStack() as stack:
        if backend == "postgresql":
            urls = [
                stack.enter_context(postgres_database("lianka_bench_intake"))
                for _ in range(databases)
            ]
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lianka-intake-")))
            urls = [f"sqlite+aiosqlite:///{work / f'lianka{n}.db'}" for n in range(databases)]
        return on(urls)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--interleave", type=int, default=200, help="conversations at a time")
    parser.add_argument(
        "--backend", choices=["sqlite", "postgresql", "both"], default="sqlite", help="database"
    )
    parser.add_argument("--profile", action="store_true", help="profile Lianka's side instead")
    parser.add_argument(
        "--count-sql", action="store_true", help="count Lianka's statements and commits per update"
    )
    parser.add_argument(
        "--beside",
        metavar="NAME",
        help="run as another benchmark's busy neighbour: the figures go in as "
        "<key>_beside_<NAME>, the plain keys left as they are",
    )
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results: dict[str, float | int | str] = {}
    for backend in backends:
        figures = run_backend(backend, args)
        if figures is None:
            continue
        for key in PER_BACKEND:
            if key in figures:
                results[f"{key}_{backend}"] = figures[key]
        if not any(key in results for key in figures):
            results.update(figures)  # the plain keys: the first backend's (SQLite's by default)
        print(
            f"intake ({backend}): {figures['intake_updates']} updates ({args.conversations} "
            f"conversations, {args.interleave} interleaved): {figures['intake_updates_per_s']}/s; "
            f"durable floor {figures['intake_durable_floor_per_s']}/s, ratio "
            f"{figures['intake_durable_ratio']} (goal >= {GOAL}); bare floor "
            f"{figures['floor_updates_per_s']}/s, ratio {figures['intake_ratio']}; Lianka's "
            f"statements alone {figures.get('intake_statement_floor_per_s', '-')}/s, durable "
            f"floor / (them + bare floor) {figures.get('intake_statement_ratio', '-')}; "
            f"replies floor {figures['intake_replies_floor_per_s']}/s, durable floor / (statements "
            f"+ replies floor) {figures.get('intake_inherent_ratio', '-')}; "
            f"p50 {figures['intake_p50_ms']} ms, p99 {figures['intake_p99_ms']} ms "
            f"(goal <= {P99_GOAL_MS}), peak RSS {figures['peak_rss_mb']} MB"
        )
    if results and args.beside:
        results = {f"{key}_beside_{args.beside}": results[key] for key in BESIDE if key in results}
    if results:
        merge_results(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
