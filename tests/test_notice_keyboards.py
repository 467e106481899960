"""A notice's offer is sent as exactly the buttons Lianka sent before offers existed, and a row
queued before the upgrade (a stored keyboard, no offer) keeps its buttons."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot.db import SessionFactory
from models.notification import (
    Notice,
    Notification,
    NotificationStatus,
    Offer,
    Recipient,
    RecipientKind,
)
from models.types import utc
from notifications.outbox import enqueue
from notifications.render import telegram_html
from notifications.sender import Sender
from notifications.telegram import notice_keyboard, offer_keyboard
from tests.fake_bot_api import FakeBotApi, serving
from tests.test_sender import TEST_PACE, run_until_done

pytestmark = pytest.mark.both_databases

# What main sent before this change (its notifications.keyboards), for two ids: a small one and
# the largest a callback may carry.
BEFORE = json.loads((Path(__file__).parent / "data" / "notice_keyboards.json").read_text())
REFS = [int(ref) for ref in BEFORE]


def test_every_offer_has_the_keyboard_it_had() -> None:
    assert {offer.value for offer in Offer} == set(BEFORE[str(REFS[0])])
    for ref in REFS:
        for offer in Offer:
            rendered = offer_keyboard(offer.on(ref)).model_dump(mode="json", exclude_none=True)
            assert rendered == BEFORE[str(ref)][offer.value], (offer, ref)


@pytest.mark.timeout(120)
async def test_queued_offers_and_old_keyboards_are_sent_with_the_buttons_main_sent(
    sessions: SessionFactory,
) -> None:
    now = datetime.now(UTC)
    expected: dict[str, dict[str, Any]] = {}
    async with sessions() as session:
        for ref in REFS:
            for n, offer in enumerate(Offer):
                text = f"{offer.value} {ref}"
                await enqueue(
                    session,
                    key=f"test:{text}",
                    kind="test",
                    to=Recipient(RecipientKind.INSPECTOR, 0, 9_200 + n),
                    notice=Notice.of("_plain", text=text),
                    now=now,
                    offer=offer.on(ref),
                )
                expected[text] = BEFORE[str(ref)][offer.value]
        # queued by the code before the upgrade: the keyboard itself, no offer
        legacy = BEFORE[str(REFS[0])]["case_work"]
        session.add(
            Notification(
                key="test:legacy",
                kind="assigned",
                chat_id=9_300,
                recipient_kind=RecipientKind.INSPECTOR,
                text="queued before the upgrade",
                reply_markup=legacy,
                status=NotificationStatus.PENDING,
                next_attempt_at=utc(now),
                created_at=utc(now),
            )
        )
        expected["queued before the upgrade"] = legacy
        await enqueue(
            session,
            key="test:plain",
            kind="test",
            to=Recipient(RecipientKind.INSPECTOR, 0, 9_301),
            notice=Notice.of("_plain", text="no buttons"),
            now=now,
        )
        await session.commit()
    api = FakeBotApi(fault_every=0)
    async with serving(api) as bot:
        await run_until_done(sessions, Sender(sessions, bot, pace=TEST_PACE, idle_interval=0.05))

    sent = {call.text: call.reply_markup for call in api.delivered}
    assert sent == {**expected, "no buttons": None}
    async with sessions() as session:
        rows = (await session.exec(select(Notification).order_by(col(Notification.id)))).all()
    assert all(row.status is NotificationStatus.SENT for row in rows)
    for row in rows:
        keyboard = notice_keyboard(row)
        dumped = keyboard.model_dump(mode="json", exclude_none=True) if keyboard else None
        assert dumped == sent[telegram_html(row)]
