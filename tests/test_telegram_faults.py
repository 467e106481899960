"""Telegram misbehaving: with a fifth of the Bot API calls answered 429, 500 or late, ``lianka
run`` keeps serving reporters and every queued notice arrives exactly once (the soak does more of
this, in both modes: ``make soak``)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sandbox import Emulator
from sandbox.faults import FaultPlan
from tests.live import LiankaProcess, prepared
from tests.reliability import check_delivery, converse, outbox_open, outbox_rows, queue_notices

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

A_FIFTH = FaultPlan(
    error_429=0.07, error_500=0.07, slow=0.06, slow_seconds=0.5, retry_after=1, seed=20261128
)


async def test_with_a_fifth_of_the_calls_failing_reports_go_through_and_each_notice_arrives_once(
    tmp_path: Path, emulator: Emulator
) -> None:
    env = await prepared(tmp_path, emulator, LIANKA_SENDER_LEASE_SECONDS="30")
    chats = list(range(7_300_001, 7_300_016))
    for chat_id in chats:
        emulator.add_user(chat_id, "监督员").chat.started = True
    queued = await queue_notices(env["LIANKA_DATABASE_URL"], chats, 3, datetime.now(UTC))
    emulator.faults = A_FIFTH
    process = LiankaProcess(tmp_path, env)
    await process.start()
    try:
        reporters = range(7_200_001, 7_200_006)
        conversations = await asyncio.gather(*(converse(emulator, u, within=20) for u in reporters))
        while True:  # however long a busy machine takes: the timeout marker stops a hang
            if await outbox_open(env["LIANKA_DATABASE_URL"]) == 0:
                break
            await asyncio.sleep(0.25)
    finally:
        code = await process.stop()
    assert code == 0, process.output()
    assert [c.user_id for c in conversations if not c.confirmed] == []
    rows = await outbox_rows(env["LIANKA_DATABASE_URL"])
    delivery = check_delivery(emulator, rows)
    assert delivery.rows > queued  # the reports' notices to the inspector too
    assert (delivery.sent, delivery.once) == (delivery.rows, delivery.rows)
    assert delivery.missing == [] and delivery.duplicated == []
    injected = emulator.stats.injected
    assert injected["429"] > 0 and injected["500"] > 0 and injected["slow"] > 0
