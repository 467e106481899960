"""``lianka run`` as its users run it: a separate process, over real HTTP, against the Bot API
emulator; polling and webhook mode, health and metrics, the webhook's secret, a graceful stop,
a proxy's error page at start."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text

from bot.retry import RetryTransient
from sandbox import Emulator, FaultPlan
from sandbox.personas import DEMO_CARD_TOKEN
from sandbox.world import commands_key
from tests.casework import until
from tests.live import REFUND, STEP_WITHIN, WEBHOOK_SECRET, LiankaProcess, lianka, prepared, report

pytestmark = pytest.mark.slow


async def test_polling_serves_a_report_and_the_inspector_gets_it(
    tmp_path: Path, emulator: Emulator
) -> None:
    env = await prepared(tmp_path, emulator)
    process = LiankaProcess(tmp_path, env)
    await process.start()
    try:
        text = await report(emulator)
        assert "AJ-2026-" in text or "AJ-2027-" in text
        inspector = emulator.user(7100002)
        assignment = await inspector.wait_reply("新交办问题", within=STEP_WITHIN)
        assert "土地出让金返还" in assignment.text
        # The sender counts a message once Telegram has answered and the row is marked sent,
        # which may be a moment after the inspector's client has it: read until it shows.
        metrics = await _metrics_once(process, "lianka_messages_sent_total 1.0")
        assert "lianka_cases_submitted_total 1.0" in metrics
        assert 'lianka_updates_handled_total{type="callback_query"}' in metrics
    finally:
        code = await process.stop()
    assert code == 0, process.output()
    assert "stopped" in process.output()


async def _metrics_once(process: LiankaProcess, expected: str) -> str:
    """The /metrics text once it contains ``expected`` (or the last one read, to fail on)."""
    metrics = ""
    for _ in range(600):  # a minute or more, only to stop a hang: a busy machine is slow
        status, metrics = await process.get("/metrics")
        assert status == 200
        if expected in metrics:
            return metrics
        await asyncio.sleep(0.1)
    raise AssertionError(f"{expected!r} never appeared in /metrics:\n{metrics}")


async def test_health_answers_while_the_database_is_there(
    tmp_path: Path, emulator: Emulator
) -> None:
    env = await prepared(tmp_path, emulator)
    process = LiankaProcess(tmp_path, env)
    await process.start()
    try:
        status, body = await process.get("/healthz")
        assert status == 200
        assert '"database": true' in body
    finally:
        await process.stop()


async def test_webhook_without_the_secret_is_refused_and_changes_nothing(
    tmp_path: Path, emulator: Emulator
) -> None:
    process = LiankaProcess(tmp_path, {}, args=("--mode", "webhook"))
    env = await prepared(
        tmp_path,
        emulator,
        LIANKA_WEBHOOK_SECRET=WEBHOOK_SECRET,
        LIANKA_WEBHOOK_URL=f"http://127.0.0.1:{process.port}/telegram/webhook",
    )
    process.env = env
    await process.start()
    update = {
        "update_id": 990001,
        "message": {
            "message_id": 1,
            "date": 1764201600,
            "chat": {"id": 7100009, "type": "private"},
            "from": {"id": 7100009, "is_bot": False, "first_name": "冒充者"},
            "text": f"/start {DEMO_CARD_TOKEN}",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }
    try:
        async with aiohttp.ClientSession() as client:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong-secret-0123456789"}):
                async with client.post(
                    f"{process.url}/telegram/webhook", json=update, headers=headers
                ) as response:
                    assert response.status == 403
        status, metrics = await process.get("/metrics")
        assert status == 200
        assert "lianka_webhook_refused_total 2.0" in metrics
        assert "lianka_updates_handled_total{" not in metrics  # nothing was handled
        # the same update with the secret is served: the card's scan is counted
        async with (
            aiohttp.ClientSession() as client,
            client.post(
                f"{process.url}/telegram/webhook",
                json=update,
                headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET},
            ) as response,
        ):
            assert response.status == 200
    finally:
        await process.stop()
    engine = create_sync_engine(f"sqlite:///{tmp_path / 'lianka.db'}")
    with engine.connect() as connection:
        scans = connection.execute(text("SELECT scan_count FROM cards")).scalar_one()
    engine.dispose()
    assert scans == 1


async def test_webhook_mode_serves_a_report_delivered_by_the_emulator(
    tmp_path: Path, emulator: Emulator
) -> None:
    process = LiankaProcess(tmp_path, {}, args=("--mode", "webhook"))
    process.env = await prepared(
        tmp_path,
        emulator,
        LIANKA_WEBHOOK_SECRET=WEBHOOK_SECRET,
        LIANKA_WEBHOOK_URL=f"http://127.0.0.1:{process.port}/telegram/webhook",
    )
    await process.start()
    try:
        text = await report(emulator)
        assert "提交成功" in text
        await emulator.user(7100002).wait_reply("新交办问题", within=STEP_WITHIN)
    finally:
        code = await process.stop()
    assert code == 0, process.output()


async def test_webhook_mode_without_a_secret_refuses_to_start(
    tmp_path: Path, emulator: Emulator
) -> None:
    env = await prepared(tmp_path, emulator)
    code, output = await lianka(
        "run", "--mode", "webhook", cwd=tmp_path, env=env, process=True
    )  # the real entry point's exit code
    assert code == 2
    assert "LIANKA_WEBHOOK_SECRET" in output
    assert "Traceback" not in output


async def test_sigterm_in_the_middle_of_a_conversation_loses_nothing(
    tmp_path: Path, emulator: Emulator
) -> None:
    env = await prepared(tmp_path, emulator)
    first = LiankaProcess(tmp_path, env)
    await first.start()
    user = emulator.add_user(7100001, "王立新")
    user.start(DEMO_CARD_TOKEN)
    await user.wait_reply("廉政监督联系卡", within=STEP_WITHIN)
    user.click("反映问题")
    await user.wait_reply("请选择您要反映的问题类别", within=STEP_WITHIN)
    user.click("营商环境")
    await user.wait_reply("请用文字描述", within=STEP_WITHIN)
    assert await first.stop(signal.SIGTERM) == 0
    second = LiankaProcess(tmp_path, env)
    await second.start()
    try:
        user.send(REFUND)  # the draft is where it was
        await user.wait_reply("请上传相关材料", within=STEP_WITHIN)
    finally:
        await second.stop()


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_a_proxy_page_at_start_is_tried_again_while_reporters_are_served(
    tmp_path: Path, emulator: Emulator, mode: str
) -> None:
    process = LiankaProcess(tmp_path, {}, args=("--mode", mode))
    webhook = {
        "LIANKA_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "LIANKA_WEBHOOK_URL": f"http://127.0.0.1:{process.port}/telegram/webhook",
    }
    process.env = await prepared(tmp_path, emulator, **(webhook if mode == "webhook" else {}))
    start_up = ("setMyCommands", "setWebhook" if mode == "webhook" else "deleteWebhook")
    emulator.faults = FaultPlan(error_html=1.0, methods=frozenset(start_up))
    beyond_one_call = RetryTransient().attempts + 1  # past the retries of a single call

    async def failed_for_a_while() -> bool:
        return all(emulator.stats.calls[method] >= beyond_one_call for method in start_up)

    async def menu_set() -> bool:
        scope = commands_key({"type": "all_private_chats"}, "")
        return "report" in [c["command"] for c in emulator.bot().commands.get(scope, [])]

    await process.start()
    try:
        await until(failed_for_a_while, STEP_WITHIN)
        emulator.faults = FaultPlan()  # the proxy reaches the Bot API again
        assert "提交成功" in await report(emulator)
        await until(menu_set, STEP_WITHIN)
    finally:
        code = await process.stop()
    assert code == 0, process.output()
    assert "failed (ClientDecodeError" in process.output()
    assert "Traceback" not in process.output()
