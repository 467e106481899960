"""Lianka talks to people one to one. A staff member who adds the bot to a group (or a
supergroup, or a channel) and types a command there gets nothing posted where the others read
along: not a clue's card, not a team's list, not the month's report."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiogram.types import Chat, Message, MessageEntity
from sqlmodel import select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from models.calendar import WorkCalendar
from models.notification import Notification
from tests.harness import Telegram, TgUser
from tests.inspector_support import (
    LEADER,
    SOE,
    SOE_LEADER,
    build,
    deliver,
    make_people,
    submit,
    user,
)

GROUP = Chat(id=-100_555, type="group", title="国企监督组工作群")
SUPERGROUP = Chat(id=-1_001_777, type="supergroup", title="委机关")


async def type_in(telegram: Telegram, person: TgUser, chat: Chat, text: str) -> Any:
    command = len(text.split(maxsplit=1)[0])
    return await telegram.feed(
        message=Message(
            message_id=next(telegram._message_ids),
            date=datetime.now(UTC),
            chat=chat,
            from_user=person.tg_user,
            text=text,
            entities=[MessageEntity(type="bot_command", offset=0, length=command)],
        )
    )


async def test_staff_commands_typed_in_a_group_post_nothing_there(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    people = await make_people(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    clue = await submit(
        sessions, catalog, calendar, clock, people.reporter, category="soe_corruption",
        description=SOE,
    )  # fmt: skip
    await deliver(tg, sessions)
    team_leader = user(tg, SOE_LEADER)
    for command in (f"/case {clue.number}", "/queue", "/stats", "/start", "/help", "/my"):
        await type_in(tg, team_leader, GROUP, command)
    assert tg.in_chat(GROUP.id) == []

    leader = user(tg, LEADER)
    await type_in(tg, leader, SUPERGROUP, "/report")
    await type_in(tg, leader, SUPERGROUP, "/queue")
    assert tg.in_chat(SUPERGROUP.id) == []
    async with sessions() as session:
        queued = (await session.exec(select(Notification.chat_id))).all()
    assert SUPERGROUP.id not in queued  # the month's report is not queued for the group either

    # the same command in their own chat with the bot works as ever
    await team_leader.send(f"/case {clue.number}")
    assert clue.number in team_leader.last and SOE[:8] in team_leader.last
