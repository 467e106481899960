"""Benchmark: reporters' complete conversations through the production dispatcher, next to
aiogram's own dispatch of the same updates.

    .venv/bin/python bench/intake_bench.py                 # 200 conversations, interleaved
    .venv/bin/python bench/intake_bench.py --profile       # where Lianka's time goes (cProfile)

Each conversation is the quickest report: the card scanned (``/start <token>``) → 反映问题 →
a category → the description → 完成 (no evidence) → 跳过 (no amount) → 匿名 → 确认提交, eight
updates. They go through ``create_dispatcher`` built as ``lianka run`` builds it (the database's
FSM storage, the in-process event isolation, the flood limit, the system clock) over a SQLite
file migrated like ``lianka init``, with a Bot whose session records every call and talks to
nobody. The conversations are interleaved, ``--interleave`` at a time: every one takes its first
step, then every one its second, and so on.

The floor is aiogram alone: a bare ``Dispatcher`` with no-op message and callback handlers,
fed the very same updates with the same kind of session. Only ``feed_update`` is timed, on both
sides; building the next update from the bot's last reply is the driver's work and is not.
``intake_ratio`` = Lianka's updates per second / the floor's (goal >= 0.5).

Writes intake_updates_per_s, floor_updates_per_s, intake_ratio, intake_p50_ms, intake_p99_ms
and peak_rss_mb (this process) into bench/results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aiogram import Bot, Dispatcher, Router  # noqa: E402
from aiogram.fsm.storage.memory import SimpleEventIsolation  # noqa: E402
from aiogram.types import (  # noqa: E402
    CallbackQuery,
    Chat,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
    User,
)
from sqlalchemy import func  # noqa: E402
from sqlmodel import select  # noqa: E402

from bench.common import merge_results, peak_rss_mb, percentile  # noqa: E402
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


async def run_lianka(
    sessions: SessionFactory, tokens: list[str], interleave: int
) -> tuple[list[float], list[Update], int]:
    """Every conversation through the production dispatcher; per-update seconds, the updates
    (for the floor), and how many cases were submitted."""
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
    seconds: list[float] = []
    fed: list[Update] = []
    users = [(7_000_001 + n, token) for n, token in enumerate(tokens)]
    for wave in range(0, len(users), interleave):
        group = users[wave : wave + interleave]
        for kind, value in STEPS:
            for user_id, token in group:
                update = updates.step(user_id, token, kind, value)
                started = time.perf_counter()
                await dispatcher.feed_update(bot, update)
                seconds.append(time.perf_counter() - started)
                fed.append(update)
    async with sessions() as db:
        submitted = (await db.exec(select(func.count()).select_from(Case))).one()
    await dispatcher.storage.close()
    return seconds, fed, int(submitted)


async def run_floor(updates: list[Update]) -> float:
    """aiogram alone: the same updates, a no-op handler, the same kind of session."""
    router = Router()

    async def nothing(_event: Any) -> None:
        return None

    router.message.register(nothing)
    router.callback_query.register(nothing)
    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    bot = Bot(f"{BOT_ID}:TEST", session=BenchSession())
    total = 0.0
    for update in updates:
        started = time.perf_counter()
        await dispatcher.feed_update(bot, update)
        total += time.perf_counter() - started
    return total


async def measure(url: str, conversations: int, interleave: int) -> dict[str, float | int]:
    sessions, tokens = await prepare(url, conversations)
    try:
        seconds, updates, submitted = await run_lianka(sessions, tokens, interleave)
    finally:
        await sessions.kw["bind"].dispose()
    if submitted != conversations:
        raise SystemExit(f"only {submitted} of {conversations} conversations ended in a case")
    floor = min([await run_floor(updates) for _ in range(3)])
    lianka = sum(seconds)
    return {
        "intake_updates_per_s": round(len(seconds) / lianka, 1),
        "floor_updates_per_s": round(len(updates) / floor, 1),
        "intake_ratio": round(floor / lianka, 4),
        "intake_p50_ms": round(percentile(seconds, 0.5) * 1000, 2),
        "intake_p99_ms": round(percentile(seconds, 0.99) * 1000, 2),
        "intake_updates": len(seconds),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--interleave", type=int, default=200, help="conversations at a time")
    parser.add_argument("--profile", action="store_true", help="profile Lianka's side instead")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lianka-bench-intake-") as work:
        url = f"sqlite+aiosqlite:///{Path(work) / 'lianka.db'}"
        upgrade_database(url)  # what ``lianka init`` does
        if args.profile:
            profile(url, args.conversations, args.interleave)
            return 0
        figures = asyncio.run(measure(url, args.conversations, args.interleave))
    merge_results(dict(figures))
    print(
        f"intake: {figures['intake_updates']} updates ({args.conversations} conversations, "
        f"{args.interleave} interleaved): {figures['intake_updates_per_s']}/s, floor "
        f"{figures['floor_updates_per_s']}/s, ratio {figures['intake_ratio']} (goal >= {GOAL}); "
        f"p50 {figures['intake_p50_ms']} ms, p99 {figures['intake_p99_ms']} ms, "
        f"peak RSS {figures['peak_rss_mb']} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
