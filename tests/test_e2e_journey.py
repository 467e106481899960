"""The whole story over the real path: ``lianka run`` as a process (polling, then webhook) against
the Bot API emulator. A reporter scans the card and reports; the inspector signs for it, asks a
question the reporter answers, asks for more time, which the team leader grants, and resolves it
with the money coordinated; the sweep asks the reporter one working day later, the reporter is
satisfied and the case closes. Every message crossed real HTTP and Telegram's HTML parser."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text

from models.calendar import SHANGHAI
from sandbox import Emulator
from sandbox.world import SandboxUser
from tests.live import (
    INSPECTOR,
    REPORTER,
    TEAM_LEADER,
    WEBHOOK_SECRET,
    LiankaProcess,
    lianka,
    prepared,
    report,
)

pytestmark = pytest.mark.slow


def newest(user: SandboxUser) -> int:
    """The id of the newest message in the person's chat (theirs or the bot's)."""
    return max((m.message_id for m in user.chat.messages), default=0)


async def expect(user: SandboxUser, contains: str, since: int, within: float = 20.0) -> str:
    """The first bot message after ``since`` containing ``contains``."""
    message = await user.wait_reply(contains, after=since, within=within)
    return str(message.text)


def due_now(process: LiankaProcess) -> None:
    """Make queued messages due now (the sweep ran with a pretended later ``--now``)."""
    engine = create_sync_engine(process.env["LIANKA_DATABASE_URL"].replace("+aiosqlite", ""))
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE notifications SET next_attempt_at = :now WHERE status = 'pending'"),
            {"now": datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")},
        )
    engine.dispose()


async def journey(tmp_path: Path, emulator: Emulator, process: LiankaProcess) -> None:
    receipt = await report(emulator)
    reporter = emulator.user(REPORTER)
    inspector, leader = emulator.user(INSPECTOR), emulator.user(TEAM_LEADER)
    found = re.search(r"AJ-\d{4}-\d{5}", receipt)
    assert found is not None
    number = found.group(0)

    assignment = await inspector.wait_reply(f"新交办问题 {number}", after=0, within=20)
    card_id = assignment.message_id

    # 签收 → the reporter is told it was accepted (受理告知)
    mark = newest(reporter)
    inspector.click("签收", message_id=card_id)
    assert "已受理" in await expect(reporter, "已受理", mark)

    # 提问 → the reporter answers through the bot → the inspector reads the answer
    mark_i = newest(inspector)
    inspector.click("提问", message_id=card_id)
    await expect(inspector, "请输入要向反映人提出的问题", mark_i)
    mark_r = newest(reporter)
    inspector.send("请问返还协议是哪一年签订的？")
    await expect(reporter, "请问返还协议是哪一年签订的", mark_r)
    reporter.click("回复")
    mark_i = newest(inspector)
    reporter.send("2023年5月签订。")
    assert "2023年5月签订" in await expect(inspector, "2023年5月签订", mark_i)

    # 申请延期 5 working days → the team leader approves → inspector and reporter told
    mark_i = newest(inspector)
    inspector.click("申请延期", message_id=card_id)
    await expect(inspector, "申请延期的工作日数", mark_i)
    mark_i = newest(inspector)
    inspector.click("5个工作日")
    await expect(inspector, "请输入延期理由", mark_i)
    mark_l = newest(leader)
    inspector.send("需等待区政府常务会研究资金拨付。")
    request = await expect(leader, "延期申请", mark_l)
    assert "5个工作日" in request
    mark_r, mark_i = newest(reporter), newest(inspector)
    leader.click("同意")
    assert "延期" in await expect(reporter, "延期", mark_r)
    await expect(inspector, "同意", mark_i)

    # 办结 with the outcome, a summary and 1700 万元 coordinated
    mark_i = newest(inspector)
    inspector.click("办结", message_id=card_id)
    await expect(inspector, "请选择办理结果", mark_i)
    mark_i = newest(inspector)
    inspector.click("问题已解决")
    await expect(inspector, "", mark_i)
    mark_i = newest(inspector)
    inspector.send("土地出让金和配套费1700余万元已返还到位。")
    await expect(inspector, "万元", mark_i)
    mark_r = newest(reporter)
    inspector.send("1700万")
    resolved = await expect(reporter, "已办结", mark_r)
    assert "1700万元" in resolved

    # 回访: the sweep, run for a moment three working days on, asks the reporter
    later = (datetime.now(SHANGHAI) + timedelta(days=7)).replace(hour=9, minute=30)
    mark_r = newest(reporter)
    code, output = await lianka(
        "jobs", "run", "deadline-sweep", "--now", later.isoformat(), cwd=tmp_path, env=process.env
    )
    assert code == 0, output
    # the question was queued at the pretended moment; let the running sender's clock reach it
    due_now(process)
    await expect(reporter, "【回访】", mark_r)
    mark_r = newest(reporter)
    reporter.click("满意")
    assert "已结案" in await expect(reporter, "感谢您的评价", mark_r)

    code, output = await lianka("audit", "verify", cwd=tmp_path, env=process.env)
    assert code == 0, output
    engine = create_sync_engine(process.env["LIANKA_DATABASE_URL"].replace("+aiosqlite", ""))
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT status, satisfaction, amount_coordinated_yuan FROM cases WHERE number = :n"
            ),
            {"n": number},
        ).one()
        pending = connection.execute(
            text("SELECT count(*) FROM notifications WHERE status IN ('pending', 'sending')")
        ).scalar_one()
    engine.dispose()
    assert tuple(row) == ("closed", "satisfied", 17_000_000)
    assert pending == 0
    assert not emulator.stats.errors, emulator.stats.as_json()  # every call was valid


async def test_the_whole_story_in_polling_mode(tmp_path: Path, emulator: Emulator) -> None:
    process = LiankaProcess(tmp_path, await prepared(tmp_path, emulator))
    await process.start()
    try:
        await journey(tmp_path, emulator, process)
    finally:
        code = await process.stop()
    assert code == 0, process.output()


async def test_the_whole_story_in_webhook_mode(tmp_path: Path, emulator: Emulator) -> None:
    process = LiankaProcess(tmp_path, {}, args=("--mode", "webhook"))
    process.env = await prepared(
        tmp_path,
        emulator,
        LIANKA_WEBHOOK_SECRET=WEBHOOK_SECRET,
        LIANKA_WEBHOOK_URL=f"http://127.0.0.1:{process.port}/telegram/webhook",
    )
    await process.start()
    try:
        await journey(tmp_path, emulator, process)
    finally:
        code = await process.stop()
    assert code == 0, process.output()
