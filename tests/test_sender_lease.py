"""A notice that waits its turn longer than the sender's claim lasts is still sent once: the
sender does not claim again a row it already holds (its ids are skipped), while a row a dead
sender held is taken once the claim has lapsed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.db import SessionFactory
from notifications.sender import claim_notifications
from tests.test_sender import queue

pytestmark = pytest.mark.both_databases


async def test_a_lapsed_claim_is_taken_again_unless_the_claimer_still_holds_the_row(
    sessions: SessionFactory,
) -> None:
    now = datetime.now(UTC)
    await queue(sessions, [(9_101, "甲"), (9_102, "乙")], at=now)
    lease = timedelta(seconds=10)
    async with sessions() as session:
        held = await claim_notifications(session, now, "sender-a", 10, lease)
    assert len(held) == 2
    later = now + timedelta(seconds=11)  # both claims have lapsed
    still_queued = [held[0].id or 0]  # sender-a still holds the first, waiting its turn
    async with sessions() as session:
        again = await claim_notifications(
            session, later, "sender-a", 10, lease, skip_ids=still_queued
        )
    assert [row.id for row in again] == [held[1].id]
    async with sessions() as session:
        by_another = await claim_notifications(session, later, "sender-b", 10, lease)
    assert [row.id for row in by_another] == [held[0].id]
