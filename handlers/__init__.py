"""Telegram presentation: routers by journey. A handler parses, calls one use case, renders."""

from __future__ import annotations

from aiogram import Router


def routers() -> list[Router]:
    """Fresh routers for one dispatcher, in the order updates should try them.

    ``registration`` (``/start i_<code>``) must come before the reporters' ``/start``; the
    inspectors' routers before the reporters' conversation, whose states they do not touch.
    The modules are imported here, not at the top, because ``notifications.keyboards`` (used
    by the use cases) imports ``handlers.callbacks``.
    """
    from handlers import admin, errors, inspector, leader, registration, relay

    return [
        errors.setup(),
        registration.setup(),
        relay.setup(),
        inspector.setup(),
        leader.setup(),
        admin.setup(),
    ]
