"""Conversation state in the database, outside an update (the CLI, jobs): written at once, and what
a process reads is what the table holds — after a restart, whatever a handler does with the draft
it was given. Within an update the writes go with the update's record: tests/test_redelivery.py."""

from __future__ import annotations

import pytest
from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey
from sqlmodel import select

from bot.db import SessionFactory
from bot.storage import SqlStorage
from models.fsm import FsmRecord

pytestmark = pytest.mark.both_databases

KEYS = DefaultKeyBuilder(with_bot_id=True, with_destiny=True)


def key(user_id: int) -> StorageKey:
    return StorageKey(bot_id=42, chat_id=user_id, user_id=user_id)


async def stored(sessions: SessionFactory, user_id: int) -> FsmRecord | None:
    async with sessions() as session:
        return (
            await session.exec(select(FsmRecord).where(FsmRecord.key == KEYS.build(key(user_id))))
        ).first()


async def test_every_change_of_a_draft_is_in_the_table_at_once(sessions: SessionFactory) -> None:
    storage = SqlStorage(sessions)
    await storage.set_state(key(1), "Intake:description")
    await storage.set_data(key(1), {"draft_id": "ab12", "evidence": []})
    await storage.set_data(key(1), {"draft_id": "ab12", "evidence": [], "category": "biz"})

    record = await stored(sessions, 1)
    assert record is not None
    assert record.state == "Intake:description"
    assert record.data == {"draft_id": "ab12", "evidence": [], "category": "biz"}


async def test_a_restarted_bot_reads_the_draft_its_predecessor_left(
    sessions: SessionFactory,
) -> None:
    first = SqlStorage(sessions)
    await first.get_state(key(2))  # remembered as empty
    await first.set_state(key(2), "Intake:amount")
    await first.set_data(key(2), {"draft_id": "cd34"})

    restarted = SqlStorage(sessions)
    assert await restarted.get_state(key(2)) == "Intake:amount"
    assert await restarted.get_data(key(2)) == {"draft_id": "cd34"}
    assert await first.get_data(key(2)) == {"draft_id": "cd34"}


async def test_changing_the_draft_a_handler_was_given_changes_nothing_stored(
    sessions: SessionFactory,
) -> None:
    storage = SqlStorage(sessions)
    await storage.set_data(key(3), {"evidence": [{"kind": "photo"}]})

    draft = await storage.get_data(key(3))
    draft["evidence"].append({"kind": "voice"})

    assert await storage.get_data(key(3)) == {"evidence": [{"kind": "photo"}]}


async def test_a_draft_reads_back_as_the_table_gives_it_back(sessions: SessionFactory) -> None:
    storage = SqlStorage(sessions)
    await storage.get_data(key(4))
    await storage.set_data(key(4), {"files": ("a", "b"), "sizes": {1: 20}})

    expected = {"files": ["a", "b"], "sizes": {"1": 20}}
    assert await storage.get_data(key(4)) == expected
    assert await SqlStorage(sessions).get_data(key(4)) == expected
