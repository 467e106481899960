"""``make run`` without a token: the sandbox gives the console an account for each role."""

from __future__ import annotations

from sqlmodel import select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.sandboxed import console_only_team, default_people, seed_console, seed_sandbox
from models.account import ConsoleAccount
from models.team import Inspector, Role


async def test_the_sandbox_has_a_console_account_for_each_role_made_once(
    sessions: SessionFactory, config: LiankaConfig, clock: FrozenClock
) -> None:
    people = default_people()
    async with sessions() as session:
        await seed_sandbox(session, config, people, clock.now())
        first = await seed_console(session, people, console_only_team(config), clock.now())
        again = await seed_console(session, people, console_only_team(config), clock.now())
        accounts = (await session.exec(select(ConsoleAccount))).all()
        persons = {p.id: p for p in (await session.exec(select(Inspector))).all()}
    assert first == again and len(accounts) == 6
    by_name = {a.username: a for a in first}
    assert by_name["admin"].totp_secret and by_name["leader"].totp_secret
    assert by_name["xinfang"].role == "信访室" and by_name["xinfang"].totp_secret is None
    roles = {a.username: persons[a.inspector_id] for a in accounts}
    assert roles["jiandu"].telegram_user_id == people.inspector.user_id  # one person, two ways in
    assert roles["zuzhang"].telegram_user_id == people.team_leader.user_id
    assert roles["jiandu2"].chat_id is None and roles["jiandu2"].role is Role.INSPECTOR
    assert (
        roles["jiandu2"].team_id != roles["jiandu"].team_id
    )  # the demo team's reports stay in the chat
