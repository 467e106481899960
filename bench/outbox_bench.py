"""Benchmark: the outbox drained by the real sender to the Bot API emulator over HTTP, with
Telegram's flood limits enforced (30 messages a second overall, 1 a second per chat).

    .venv/bin/python bench/outbox_bench.py                      # 3,000 messages to 300 chats
    .venv/bin/python bench/outbox_bench.py --messages 600       # a shorter run

The emulator (``sandbox``) runs in a process of its own, as Telegram would, with its rate limits
on and the 300 people having started the bot. The outbox is a SQLite file migrated like
``lianka init``, filled with ``--messages`` rows spread over ``--chats`` chats in random order
(ten each by default), all due now. The sender is ``notifications.sender.Sender`` as
``lianka run`` builds it (its default pace) over aiogram's HTTP session; the clock runs from the
first claim to the last row recorded as sent.

Keys: outbox_msgs_per_s (sent / seconds), outbox_limit_per_s (the emulator's overall limit),
outbox_429s (429s the emulator answered), outbox_share (rate / limit). Goal: outbox_share >= 0.9
with outbox_429s = 0 on a busy machine: ``make bench`` runs it beside the intake benchmark
(``bench/run.py --outbox-neighbour``, recorded as outbox_neighbour), so the sender and the emulator
wait for the CPU now and then and requests reach the emulator bunched, as they reach Telegram from
a busy server. The emulator counts a request when it takes it, in sliding one-second windows, as
Telegram does; the sender keeps under that count whatever the delays on the way
(``notifications.sender.SendWindow``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bench.common import merge_results  # noqa: E402

TOKEN = "5151:outbox-bench-token"  # noqa: S105 (the emulator's test bot)
FIRST_CHAT = 6_100_000
GOAL = 0.9


async def serve(chats: int) -> None:
    """The emulator with Telegram's limits, until stdin closes; prints its base URL."""
    from sandbox import BotSpec, Emulator, RateLimits

    emulator = Emulator(bots=[BotSpec(TOKEN, "OutboxBenchBot")], limits=RateLimits(enabled=True))
    for n in range(chats):
        emulator.add_user(FIRST_CHAT + n, f"企业联系人{n}").start()
    async with emulator:
        print(emulator.base_url, flush=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)


async def fill(url: str, messages: int, chats: int) -> None:
    from bot.db import create_engine, create_session_factory
    from models.notification import Notice, Recipient, RecipientKind
    from notifications.outbox import enqueue

    order = [FIRST_CHAT + n % chats for n in range(messages)]
    random.Random(3).shuffle(order)  # noqa: S311 (test data)
    engine = create_engine(url)
    now = datetime.now(UTC)
    try:
        async with create_session_factory(engine)() as session:
            for n, chat_id in enumerate(order):
                await enqueue(
                    session,
                    key=f"bench:{n}",
                    kind="bench",
                    to=Recipient(RecipientKind.INSPECTOR, n, chat_id),
                    notice=Notice.of(
                        "deadline_warning",
                        case={"number": f"AJ-2026-{n:05d}"},
                        clock="accept",
                        label="签收",
                        due_text="今日17:30",
                        provisional=False,
                        to_assignee=True,
                        assignee=None,
                        supervised=False,
                        category="营商环境",
                        team="",
                    ),
                    now=now,
                )
            await session.commit()
    finally:
        await engine.dispose()


async def drain(url: str, base_url: str, messages: int) -> tuple[float, int]:
    """Send everything with the production sender; seconds from start to the last row sent."""
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    from bot.db import create_engine, create_session_factory
    from notifications.sender import Sender

    engine = create_engine(url)
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)))
    sender = Sender(create_session_factory(engine), bot, idle_interval=0.05)
    try:
        started = time.perf_counter()
        while sender.stats.sent + sender.stats.failed < messages:
            if not await sender.drain():
                await asyncio.sleep(0.05)  # rows retried later (after a 429) are not due yet
        seconds = time.perf_counter() - started
    finally:
        await bot.session.close()
        await engine.dispose()
    return seconds, sender.stats.sent


async def emulator_stats(base_url: str) -> dict[str, object]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{base_url}/_sandbox/stats") as response,
    ):
        stats: dict[str, object] = (await response.json())["stats"]
        return stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--chats", type=int, default=300)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.chats))
        return 0

    from bot.db import upgrade_database
    from sandbox import RateLimits

    limit = RateLimits().overall_per_second
    server = subprocess.Popen(  # noqa: S603 (this very script)
        [sys.executable, __file__, "--serve", "--chats", str(args.chats)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        if not base_url.startswith("http"):
            raise SystemExit("the emulator did not start")
        with tempfile.TemporaryDirectory(prefix="lianka-bench-outbox-") as work:
            url = f"sqlite+aiosqlite:///{Path(work) / 'lianka.db'}"
            upgrade_database(url)
            asyncio.run(fill(url, args.messages, args.chats))
            print(
                f"outbox: {args.messages} messages to {args.chats} chats, "
                f"about {args.messages / limit:.0f} s at {limit}/s",
                flush=True,
            )
            seconds, sent = asyncio.run(drain(url, base_url, args.messages))
        stats = asyncio.run(emulator_stats(base_url))
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(timeout=30)
    served_429 = int(str(stats.get("served_429", 0)))
    rate = sent / seconds
    figures: dict[str, float | int | str] = {
        "outbox_msgs_per_s": round(rate, 2),
        "outbox_limit_per_s": limit,
        "outbox_429s": served_429,
        "outbox_share": round(rate / limit, 3),
        "outbox_messages": sent,
    }
    merge_results(figures)
    print(
        f"outbox: {sent} sent in {seconds:.1f} s = {rate:.2f}/s of {limit}/s allowed "
        f"({rate / limit:.1%}, goal >= {GOAL:.0%}), {served_429} answered 429; "
        f"emulator calls {json.dumps(stats.get('calls'))}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
