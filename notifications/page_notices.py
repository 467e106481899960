"""Notices for web reporters beyond their page: where a text-message gateway plugs in.

A web reporter has no chat. Their notices are ``Channel.WEB`` rows of the outbox, written in the
use case's transaction like every other notice, and the tracking page (``/t``) shows each of
them whatever its status. Lianka has no SMS gateway here; a commission that has one plugs it in
as a ``ReporterMessenger`` (``create_scheduler(messenger=...)``), and ``relay_web_notices`` hands
it each web notice once, as plain text, with the outbox's claim (several instances never hand
the same row twice) and its retry: a notice the gateway did not take is offered again later.
Without a messenger nothing is relayed and the rows simply wait for the page.

The gateway gets the reporter's id, not their phone: finding a 实名 reporter's number (and
deciding that an anonymous one has none) is the gateway adapter's business, through the use
cases that guard identities.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import update
from sqlmodel import col

from bot.db import SessionFactory
from models.notification import Channel, Notification, NotificationStatus
from models.types import utc
from notifications.render import page_text, purged
from notifications.sender import claim_notifications

logger = logging.getLogger(__name__)

RELAY_INSTANCE = "web-notices"
RELAY_LEASE = timedelta(minutes=5)
RELAY_RETRY = timedelta(minutes=10)


class ReporterMessenger(Protocol):
    """A text-message gateway (or any other way to reach a web reporter off the page)."""

    async def tell(self, *, reporter_id: int, case_id: int | None, text: str) -> bool:
        """Hand one notice on; True once the gateway took it, False to be offered it again."""
        ...


async def _tell(messenger: ReporterMessenger, row: Notification) -> bool:
    assert row.recipient_id is not None
    try:
        return await messenger.tell(
            reporter_id=row.recipient_id, case_id=row.case_id, text=page_text(row)
        )
    except Exception as error:  # its message may hold the text or a number: not logged
        logger.warning("web notice %s: the messenger failed (%s)", row.id, type(error).__name__)
        return False


async def relay_web_notices(
    sessions: SessionFactory,
    messenger: ReporterMessenger,
    *,
    now: datetime,
    limit: int = 50,
) -> int:
    """Offer the due web notices to ``messenger``, each once; how many it took."""
    async with sessions() as session:
        rows = await claim_notifications(
            session, now, RELAY_INSTANCE, limit, RELAY_LEASE, channel=Channel.WEB
        )
    told = 0
    for row in rows:
        assert row.id is not None and row.recipient_id is not None
        # a notice that waited past retention has nothing left to hand on: done, nothing sent
        empty = purged(row)
        taken = empty or await _tell(messenger, row)

        done = {"status": NotificationStatus.SENT, "sent_at": utc(now)}
        again = {
            "status": NotificationStatus.PENDING,
            "next_attempt_at": utc(now + RELAY_RETRY),
        }
        async with sessions() as session:
            await session.exec(
                update(Notification)
                .where(col(Notification.id) == row.id)
                .values(
                    attempts=row.attempts + 1,
                    claimed_by=None,
                    claimed_until=None,
                    **(done if taken else again),
                )
            )
            await session.commit()
        told += taken and not empty
    return told
