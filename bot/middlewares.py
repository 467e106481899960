"""Outer middlewares: plumbing only, no business work and no commits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject

from bot.db import SessionFactory


class DbSessionMiddleware(BaseMiddleware):
    """One ``AsyncSession`` per update, passed to handlers as ``session``; closed (rolled back if
    uncommitted) when the update is done."""

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        async with self._sessions() as session:
            data["session"] = session
            return await handler(event, data)
