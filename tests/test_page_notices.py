"""Where a text-message gateway plugs in: a web reporter's notices (kept for their page) are
handed to a messenger once each, as plain text, and offered again when it did not take them;
chat notices never reach it; without a messenger the rows just wait for the page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from bot.db import SessionFactory
from bot.scheduler import create_scheduler
from models.notification import (
    Channel,
    Notice,
    Notification,
    NotificationStatus,
    Recipient,
    RecipientKind,
)
from notifications.outbox import enqueue
from notifications.page_notices import RELAY_RETRY, relay_web_notices

pytestmark = pytest.mark.both_databases

NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
WEB_REPORTER = Recipient(RecipientKind.REPORTER, 41, None, channel=Channel.WEB)


@dataclass
class Gateway:
    """A text-message gateway that refuses the first ``refuse`` messages."""

    refuse: int = 0
    told: list[tuple[int, str]] = field(default_factory=list)

    async def tell(self, *, reporter_id: int, case_id: int | None, text: str) -> bool:
        if self.refuse:
            self.refuse -= 1
            return False
        self.told.append((reporter_id, text))
        return True


async def queue(sessions: SessionFactory, to: Recipient, text: str, key: str) -> None:
    async with sessions() as session:
        await enqueue(
            session, key=key, kind="test", to=to, notice=Notice.of("_plain", text=text), now=NOW
        )
        await session.commit()


async def statuses(sessions: SessionFactory) -> dict[str, NotificationStatus]:
    async with sessions() as session:
        rows = await session.exec(select(Notification).order_by(col(Notification.id)))
        return {row.key: row.status for row in rows.all()}


async def test_a_web_notice_reaches_the_gateway_once_as_plain_text(
    sessions: SessionFactory,
) -> None:
    await queue(sessions, WEB_REPORTER, "您的问题已受理 <请留意> & 本页", "web:1")
    await queue(sessions, Recipient(RecipientKind.INSPECTOR, 7, 9_100), "交办", "chat:1")
    gateway = Gateway()
    assert await relay_web_notices(sessions, gateway, now=NOW) == 1
    assert gateway.told == [(41, "您的问题已受理 <请留意> & 本页")]
    assert await relay_web_notices(sessions, gateway, now=NOW + timedelta(hours=1)) == 0
    assert await statuses(sessions) == {
        "web:1": NotificationStatus.SENT,
        "chat:1": NotificationStatus.PENDING,  # the chat's sender's, not the gateway's
    }


async def test_a_notice_the_gateway_did_not_take_is_offered_again_later(
    sessions: SessionFactory,
) -> None:
    await queue(sessions, WEB_REPORTER, "工作人员向您提问", "web:2")
    gateway = Gateway(refuse=1)
    assert await relay_web_notices(sessions, gateway, now=NOW) == 0
    assert await relay_web_notices(sessions, gateway, now=NOW + timedelta(minutes=1)) == 0
    assert await relay_web_notices(sessions, gateway, now=NOW + RELAY_RETRY) == 1
    assert gateway.told == [(41, "工作人员向您提问")]


async def test_a_notice_whose_text_retention_removed_is_never_handed_on_as_an_empty_message(
    sessions: SessionFactory,
) -> None:
    await queue(sessions, WEB_REPORTER, "工作人员向您提问", "web:3")
    async with sessions() as session:
        await session.exec(update(Notification).values(params=None, text=None))
        await session.commit()
    gateway = Gateway()
    assert await relay_web_notices(sessions, gateway, now=NOW) == 0
    assert gateway.told == []
    assert await statuses(sessions) == {"web:3": NotificationStatus.SENT}


def test_the_scheduler_relays_only_where_a_messenger_is_plugged_in(
    sessions: SessionFactory, config
) -> None:
    without = create_scheduler(sessions=sessions, config=config)
    with_gateway = create_scheduler(sessions=sessions, config=config, messenger=Gateway())
    assert without.get_job("web-notices") is None
    assert with_gateway.get_job("web-notices") is not None
