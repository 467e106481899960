"""The acting person on the staff routers: a handler that takes ``actor`` gets the active
registered person who sent the update (``bot.services.inspectors.get_actor``).

An inner middleware, so it runs once the router's filters have chosen the handler, and only for a
handler that asks for ``actor``: the others on these routers (/cancel, a forged button, 请以文字输入)
answer whoever sends them, as before. Anyone who is not an active inspector is refused with
``get_actor``'s ``PermissionDenied`` before the handler or any use case runs; the errors handler
renders it. Like every middleware it commits nothing (one update, one commit: ``bot.middlewares``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Router
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.types import TelegramObject, User

from bot.services.inspectors import get_actor


class ActorMiddleware(BaseMiddleware):
    """Passes ``actor: Inspector`` to the handlers that take it."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        chosen: HandlerObject | None = data.get("handler")
        if chosen is not None and "actor" in chosen.params:
            user: User = data["event_from_user"]
            data["actor"] = await get_actor(data["session"], user.id)
        return await handler(event, data)


def with_actor(router: Router) -> Router:
    """``router`` with the acting person passed to its message and button handlers."""
    router.message.middleware(ActorMiddleware())
    router.callback_query.middleware(ActorMiddleware())
    return router
