"""The acting person on the staff routers (handlers.actor): looked up once, before the handler,
only for a handler that takes ``actor``; anyone else is refused before any use case runs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.types import User

from bot.db import SessionFactory
from handlers.actor import ActorMiddleware
from models.errors import PermissionDenied
from models.team import Inspector
from tests.factories import make_inspector

NOW = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
INSPECTOR, DEACTIVATED, REPORTER = 601, 602, 7_000_001
EVENT = User(id=1, is_bot=False, first_name="某")  # what the update carries; unread here


async def staff_handler(event: object, actor: Inspector) -> None: ...


async def anyones_handler(event: object) -> None: ...


class Reached:
    def __init__(self) -> None:
        self.data: dict[str, Any] | None = None

    async def __call__(self, event: object, data: dict[str, Any]) -> str:
        self.data = data
        return "handled"


class Untouchable:
    """A session nobody may use."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the session was used: {name}")


def data_for(telegram_id: int, handler: Any, session: Any) -> dict[str, Any]:
    return {
        "handler": HandlerObject(callback=handler),
        "event_from_user": User(id=telegram_id, is_bot=False, first_name="某"),
        "session": session,
    }


@pytest.fixture
async def people(sessions: SessionFactory) -> None:
    async with sessions() as session:
        await make_inspector(session, NOW, team_code=None, telegram_user_id=INSPECTOR)
        await make_inspector(
            session, NOW, team_code=None, telegram_user_id=DEACTIVATED, active=False
        )


async def test_a_staff_handler_gets_the_active_person(
    sessions: SessionFactory, people: None
) -> None:
    reached = Reached()
    async with sessions() as session:
        data = data_for(INSPECTOR, staff_handler, session)
        assert await ActorMiddleware()(reached, EVENT, data) == "handled"
    assert reached.data is not None
    assert reached.data["actor"].telegram_user_id == INSPECTOR


@pytest.mark.parametrize("telegram_id", [REPORTER, DEACTIVATED])
async def test_anyone_else_is_refused_before_the_handler_runs(
    sessions: SessionFactory, people: None, telegram_id: int
) -> None:
    reached = Reached()
    async with sessions() as session:
        with pytest.raises(PermissionDenied) as refused:
            await ActorMiddleware()(reached, EVENT, data_for(telegram_id, staff_handler, session))
        assert "您不是登记的监督人员" in refused.value.message
        assert not session.new and not session.dirty  # and it wrote nothing
    assert reached.data is None


async def test_a_handler_for_anyone_is_not_looked_up() -> None:
    """/cancel or a forged button on a staff router answers a reporter as before."""
    reached = Reached()
    data = data_for(REPORTER, anyones_handler, Untouchable())
    assert await ActorMiddleware()(reached, EVENT, data) == "handled"
    assert reached.data is not None and "actor" not in reached.data
