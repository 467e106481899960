"""Several instances: two ``lianka run --mode webhook`` processes on one PostgreSQL database and
one Redis, behind a proxy that hands Telegram's updates to them in turn. Conversations continue
from one process to the other (state and per-user ordering live in Redis), every report is one
case, and every notification leaves once although both processes sweep and send."""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import text

from bot.db import create_engine
from sandbox import BotSpec, Emulator
from sandbox.personas import DEMO_CARD_TOKEN
from tests.conftest import POSTGRES_ADMIN_URL, _admin_execute, _missing_service
from tests.live import INSPECTOR, REFUND, WEBHOOK_SECRET, LiankaProcess, free_port, prepared

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(300)]

REDIS_URL = "redis://127.0.0.1:6379/0"
CONVERSATIONS = 6
REPLY_WITHIN = 60  # only to stop a hang: two processes, PostgreSQL and Redis on a busy machine


@pytest.fixture
async def database() -> AsyncIterator[str]:
    name = f"lianka_instances_{secrets.token_hex(4)}"
    try:
        await _admin_execute(f'CREATE DATABASE "{name}"')
    except Exception as error:
        _missing_service("PostgreSQL", error)
    yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    await _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def redis_ready() -> AsyncIterator[int]:
    """Redis is up; yields a bot id of this test's own, so its FSM keys collide with nothing."""
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as error:
        await client.aclose()
        _missing_service("Redis", error)
    bot_id = 800_000_000 + secrets.randbelow(99_999_999)
    yield bot_id
    keys = [key async for key in client.scan_iter(match=f"fsm:{bot_id}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


class RoundRobin:
    """The HTTPS proxy of a real deployment, reduced to taking turns between the instances."""

    def __init__(self, targets: list[str]) -> None:
        self._turns = itertools.cycle(targets)
        self.count: dict[str, int] = dict.fromkeys(targets, 0)
        self.port = free_port()
        self._runner: web.AppRunner | None = None

    async def _forward(self, request: web.Request) -> web.Response:
        target = next(self._turns)
        self.count[target] += 1
        body = await request.read()
        async with (
            aiohttp.ClientSession() as client,
            client.post(target + request.path, data=body, headers=dict(request.headers)) as answer,
        ):
            return web.Response(
                status=answer.status,
                body=await answer.read(),
                content_type=answer.content_type,
            )

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{path:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


async def converse(emulator: Emulator, user_id: int) -> str:
    user = emulator.add_user(user_id, f"企业{user_id % 100}")
    user.start(DEMO_CARD_TOKEN)
    await user.wait_reply("廉政监督联系卡", within=REPLY_WITHIN)
    steps: list[tuple[str, str, str]] = [
        ("click", "反映问题", "请选择您要反映的问题类别"),
        ("click", "营商环境", "请用文字描述"),
        ("send", f"{REFUND}（第{user_id % 100}家企业）", "请上传相关材料"),
        ("click", "完成", "金额"),
        ("click", "跳过", "请选择反映方式"),
        ("click", "匿名", "请核对"),
        ("click", "确认提交", "提交成功"),
    ]
    for how, what, expected in steps:
        mark = max((m.message_id for m in user.chat.messages), default=0)
        if how == "click":
            user.click(what)
        else:
            user.send(what)
        reply = await user.wait_reply(expected, after=mark, within=REPLY_WITHIN)
    return str(reply.text)


async def test_two_webhook_instances_share_the_work_and_nothing_happens_twice(
    tmp_path: Path, database: str, redis_ready: int
) -> None:
    token = f"{redis_ready}:two-instances-test"
    async with Emulator(bots=[BotSpec(token, "LiankaPairBot", "廉卡")]) as emulator:
        first = LiankaProcess(tmp_path, {}, args=("--mode", "webhook"))
        second = LiankaProcess(tmp_path, {}, args=("--mode", "webhook", "--no-set-webhook"))
        proxy = RoundRobin([first.url, second.url])
        await proxy.start()
        env = await prepared(
            tmp_path,
            emulator,
            LIANKA_BOT_TOKEN=token,
            LIANKA_DATABASE_URL=database,
            LIANKA_REDIS_URL=REDIS_URL,
            LIANKA_WEBHOOK_SECRET=WEBHOOK_SECRET,
            LIANKA_WEBHOOK_URL=f"http://127.0.0.1:{proxy.port}/telegram/webhook",
        )
        first.env = second.env = env
        await first.start()
        await second.start()
        try:
            receipts = await asyncio.gather(
                *(converse(emulator, 7_200_001 + n) for n in range(CONVERSATIONS))
            )
            inspector = emulator.user(INSPECTOR)
            await inspector.wait_for(
                lambda chat: sum("新交办问题" in m.text for m in chat.visible()) >= CONVERSATIONS,
                within=REPLY_WITHIN,
            )
            await asyncio.sleep(3)  # time for a second copy to show, if there were one
        finally:
            codes = [await first.stop(), await second.stop()]
            await proxy.stop()
        assert codes == [0, 0], first.output() + second.output()
        assignments = [m.text for m in inspector.chat.visible() if "新交办问题" in m.text]
        numbers = {line.split()[1] for line in (t.splitlines()[0] for t in assignments)}

    assert all("提交成功" in r for r in receipts)
    assert min(proxy.count.values()) >= CONVERSATIONS  # both instances served updates
    assert len(assignments) == CONVERSATIONS == len(numbers)  # each case assigned once
    engine = create_engine(database)
    try:
        async with engine.connect() as connection:
            cases = (await connection.execute(text("SELECT count(*) FROM cases"))).scalar_one()
            rows = (
                await connection.execute(
                    text("SELECT kind, status, count(*) FROM notifications GROUP BY kind, status")
                )
            ).all()
    finally:
        await engine.dispose()
    assert cases == CONVERSATIONS
    sent = {kind: count for kind, status, count in rows if status == "sent"}
    assert {status for _, status, _ in rows} == {"sent"}  # every notice sent, none twice
    assert sent.pop("assigned", 0) == CONVERSATIONS, rows
    # the alike reports after the first are flagged 疑似重复件 (one notice each)
    assert set(sent) <= {"inspector_repeat"}
